-- Reconciliation (issue #6, deliverable 7): MoMo statement files as uploaded, what a run did,
-- the orphan kinds, the three-way view of each item and who resolved it.

-- A statement file an operator uploaded (MoMo's partner-portal export, or the simulator's).
create table reconciliation_statements (
    id                  uuid primary key default gen_random_uuid(),
    uploaded_by_user_id uuid references users (id) on delete restrict,
    file_name           text not null,
    -- which column layout the header named
    layout              text not null,
    sha256              text not null,
    line_count          integer not null,
    first_at            timestamptz,
    last_at             timestamptz,
    created_at          timestamptz not null,
    constraint reconciliation_statements_layout_check check (layout in ('simulator', 'mtn_portal'))
);

-- One transaction of a statement, checked and normalised at upload.
create table reconciliation_statement_lines (
    statement_id             uuid not null references reconciliation_statements (id) on delete restrict,
    -- the line number in the file as an editor counts it
    line                     integer not null,
    occurred_at              timestamptz not null,
    -- MoMo's X-Reference-Id (our attempt's reference), when the layout has it
    reference_id             uuid,
    financial_transaction_id text,
    external_id              text,
    -- external_id when it is a UUID (our disbursement or redemption id)
    external_uuid            uuid,
    msisdn                   text,
    -- whole units, always positive
    amount                   bigint not null,
    currency                 text,
    -- PENDING | SUCCESSFUL | FAILED
    status                   text not null,
    reason                   text,
    constraint reconciliation_statement_lines_pkey primary key (statement_id, line),
    constraint reconciliation_statement_lines_status_check check (status in ('PENDING', 'SUCCESSFUL', 'FAILED'))
);
create index reconciliation_statement_lines_period_idx on reconciliation_statement_lines (statement_id, occurred_at);
create index reconciliation_statement_lines_reference_idx on reconciliation_statement_lines (reference_id)
    where reference_id is not null;

alter table reconciliation_runs
    add column statement_id uuid references reconciliation_statements (id) on delete restrict,
    add column query_momo   boolean not null default true,
    add column trigger      text not null default 'manual',
    add column job_id       bigint,
    -- status queries sent to MoMo
    add column queries_made integer not null default 0,
    -- items per kind, once completed
    add column counts       jsonb not null default '{}',
    add column error        text,
    add column started_at   timestamptz,
    add constraint reconciliation_runs_trigger_check check (trigger in ('manual', 'scheduled')),
    drop constraint reconciliation_runs_source_check,
    add constraint reconciliation_runs_source_check
        check (source in ('status_query', 'statement', 'status_query_and_statement'));
-- One run at a time: runs share MoMo's status-query budget.
create unique index reconciliation_runs_one_running_idx on reconciliation_runs ((true)) where status = 'running';
-- One scheduled run per day.
create unique index reconciliation_runs_scheduled_day_idx on reconciliation_runs (period_from)
    where trigger = 'scheduled';
create index reconciliation_runs_created_at_idx on reconciliation_runs (created_at desc);

alter table reconciliation_items
    add column redemption_id       uuid references redemptions (id) on delete restrict,
    add column statement_line      integer,
    -- our amount and payee (or the statement's, for a transaction missing here), for lists and filters
    add column amount              bigint,
    add column msisdn              text,
    -- every disagreement found, [{kind, referenceId, message}]; the item's kind is the gravest
    add column findings            jsonb not null default '[]',
    add column resolved_by_user_id uuid references users (id) on delete restrict,
    drop constraint reconciliation_items_kind_check,
    add constraint reconciliation_items_kind_check check (kind in (
        'match', 'status_mismatch', 'amount_mismatch', 'missing_at_momo', 'missing_here',
        'pending_too_long', 'successful_at_momo_not_here', 'paid_here_unknown_to_momo', 'unchecked')),
    add constraint reconciliation_items_resolution_check check ((resolved_at is null) = (resolution is null));
create index reconciliation_items_disbursement_idx on reconciliation_items (disbursement_id)
    where disbursement_id is not null;

-- Matching statement lines that carry no reference (the portal layout) by MoMo's ledger id.
create index disbursement_attempts_financial_transaction_id_idx on disbursement_attempts (financial_transaction_id)
    where financial_transaction_id is not null;
-- Runs walk disbursements by creation time.
create index disbursements_created_at_id_idx on disbursements (created_at, id);
