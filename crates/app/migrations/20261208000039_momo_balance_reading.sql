-- The MoMo disbursement account's last balance reading, as the payout worker last read it
-- (issue #21: the dashboard shows the float, not only whether it is low). One row, replaced on
-- every successful reading; the reading is made outside any transaction and written after it.
create table momo_balance (
    singleton boolean primary key default true check (singleton),
    available bigint,
    currency  text not null,
    read_at   timestamptz not null
);
