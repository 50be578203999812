-- Custom report definitions, report schedules and their runs (issue #21 items 3 and 4, decision 0043).

-- A saved custom report: a person's definition (dataset, dimensions, measures, filters, range),
-- theirs to delete, seen by others with `reports.read` once shared.
create table custom_reports (
    id            uuid primary key,
    owner_user_id uuid not null references users (id),
    name          text not null check (length(name) between 1 and 120),
    definition    jsonb not null,
    shared        boolean not null default false,
    -- money in it (a payout dataset or an amount): only those with `disbursements.read` see it
    financial     boolean not null,
    created_at    timestamptz not null,
    updated_at    timestamptz not null
);
-- the keyset of the saved list (newest first), per owner and for the shared ones
create index custom_reports_owner_idx on custom_reports (owner_user_id, created_at desc, id desc);
create index custom_reports_shared_idx on custom_reports (created_at desc, id desc) where shared;

-- A schedule a person made: a built-in report or a saved custom one, e-mailed every day, week or
-- month. The analytics settings' built-in schedule (`reports.schedule.*`) has no row here.
create table report_schedules (
    id               uuid primary key,
    owner_user_id    uuid not null references users (id),
    report_kind      text not null check (report_kind in ('batches', 'financial', 'engagement', 'custom')),
    custom_report_id uuid references custom_reports (id) on delete cascade,
    frequency        text not null check (frequency in ('daily', 'weekly', 'monthly')),
    recipients       text[] not null check (cardinality(recipients) between 1 and 50),
    format           text not null check (format in ('csv', 'pdf')),
    delivery         text not null check (delivery in ('attach', 'link')),
    created_at       timestamptz not null,
    constraint report_schedules_custom_check check ((report_kind = 'custom') = (custom_report_id is not null))
);
create index report_schedules_list_idx on report_schedules (created_at desc, id desc);

-- One row per schedule and period (the outbox of the e-mail): written before anything is sent,
-- sent by the `reports.schedule_send` job with retries; the unique key means a period is sent
-- once. `schedule_key` is the schedule's id, or `builtin:daily|weekly|monthly` for the settings'.
create table report_runs (
    id           uuid primary key,
    schedule_key text not null,
    schedule_id  uuid references report_schedules (id) on delete set null,
    frequency    text not null check (frequency in ('daily', 'weekly', 'monthly')),
    period_from  date not null,
    period_to    date not null,
    status       text not null check (status in ('queued', 'sent', 'failed')),
    attempts     integer not null default 0,
    error        text,
    recipients   text[] not null,
    format       text not null check (format in ('csv', 'pdf')),
    delivery     text not null check (delivery in ('attach', 'link')),
    -- delivery by link: the report files (`report_files`) the e-mail links to, made once per run
    files        uuid[] not null default '{}',
    created_at   timestamptz not null,
    sent_at      timestamptz,
    constraint report_runs_period_key unique (schedule_key, period_from)
);
create index report_runs_list_idx on report_runs (created_at desc, id desc);
create index report_runs_schedule_idx on report_runs (schedule_id, created_at desc) where schedule_id is not null;
