-- The payout worker (issue #6): what it learns per attempt, the payee check, alerts raised for
-- people, and the second-person reversal of a redemption whose payout failed for good.

alter table disbursements
    add column payee_checked_at timestamptz,
    -- why a queued payout is held back (low balance, MoMo configuration) while it waits
    add column held_reason text;

alter table disbursement_attempts
    -- MoMo's answer as read (status body or error body), for the detail view
    add column momo_status text,
    add column momo_reason text,
    add column response jsonb,
    add column polls integer not null default 0,
    add column callback_count integer not null default 0,
    add column last_callback_at timestamptz,
    add column last_polled_at timestamptz;

-- Open work for a person: raised by the system, read in the app (other channels later, PRD 2.6).
create table alerts (
    id               uuid primary key default gen_random_uuid(),
    kind             text not null,
    severity         text not null,
    title            text not null,
    body             text not null default '',
    -- the permission a person needs to see it (financial.alerts.view, system.alerts.view, …)
    audience         text not null,
    subject_type     text,
    subject_id       text,
    -- while an alert with this key is open, raising it again only counts the repeat
    dedupe_key       text,
    occurrences      integer not null default 1,
    created_at       timestamptz not null,
    last_seen_at     timestamptz not null,
    acknowledged_at  timestamptz,
    acknowledged_by  uuid references users (id) on delete restrict,
    constraint alerts_severity_check check (severity in ('info', 'warning', 'critical'))
);
create unique index alerts_open_dedupe_idx on alerts (dedupe_key) where acknowledged_at is null;
create index alerts_open_idx on alerts (created_at desc) where acknowledged_at is null;

create table redemption_reversals (
    id                   uuid primary key default gen_random_uuid(),
    redemption_id        uuid not null references redemptions (id) on delete restrict,
    requested_by_user_id uuid not null references users (id) on delete restrict,
    reason               text not null,
    status               text not null default 'pending',
    decided_by_user_id   uuid references users (id) on delete restrict,
    decision_note        text,
    created_at           timestamptz not null,
    decided_at           timestamptz,
    constraint redemption_reversals_status_check check (status in ('pending', 'approved', 'rejected')),
    constraint redemption_reversals_two_people check (decided_by_user_id is null or decided_by_user_id <> requested_by_user_id)
);
create unique index redemption_reversals_pending_idx on redemption_reversals (redemption_id) where status = 'pending';
