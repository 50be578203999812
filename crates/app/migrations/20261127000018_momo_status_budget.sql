-- The status-query budget every process shares (disbursement::budget): the time of the next free
-- status-query slot, by the database's clock. One row; unlogged (a crash only forgets the slot).
create unlogged table momo_status_budget (
    id      boolean primary key default true check (id),
    next_at timestamptz not null
);
