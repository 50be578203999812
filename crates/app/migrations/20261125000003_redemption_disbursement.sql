-- Customers, USSD interactions, redemptions, disbursements and their MoMo attempts.
create table customers (
    id            uuid primary key default gen_random_uuid(),
    user_id       uuid not null references users (id) on delete restrict,
    msisdn        text not null,
    language      text not null default 'rw',
    network_code  text,
    first_seen_at timestamptz not null,
    last_seen_at  timestamptz not null,
    constraint customers_user_id_key unique (user_id),
    constraint customers_msisdn_key unique (msisdn),
    constraint customers_msisdn_check check (msisdn ~ '^\+[1-9][0-9]{7,14}$'),
    constraint customers_language_check check (language in ('en', 'rw'))
);

create table ussd_sessions (
    session_id        text primary key,
    phone_number      text not null,
    service_code      text not null,
    network_code      text,
    language          text,
    started_at        timestamptz not null,
    last_seen_at      timestamptz not null,
    -- from Africa's Talking's end-of-session notification
    final_status      text,
    duration_ms       bigint,
    hops              integer,
    final_input       text,
    last_app_response text,
    error_message     text,
    ended_at          timestamptz
);
create index ussd_sessions_phone_idx on ussd_sessions (phone_number, started_at desc);

create table ussd_interactions (
    id           bigint generated always as identity primary key,
    session_id   text not null,
    phone_number text not null,
    network_code text,
    service_code text not null,
    input        text not null,
    response     text not null,
    outcome      text not null,
    latency_ms   integer not null,
    created_at   timestamptz not null
);
create index ussd_interactions_phone_idx on ussd_interactions (phone_number, created_at desc);
create index ussd_interactions_session_idx on ussd_interactions (session_id, input);
create index ussd_interactions_outcome_idx on ussd_interactions (outcome, created_at desc);

create table redemptions (
    id              uuid primary key default gen_random_uuid(),
    user_id         uuid not null references users (id) on delete restrict,
    customer_id     uuid not null references customers (id) on delete restrict,
    promo_code_id   uuid not null references promo_codes (id) on delete restrict,
    batch_id        uuid not null references batches (id) on delete restrict,
    phone_number    text not null,
    amount          bigint not null,
    currency        text not null default 'RWF',
    status          text not null default 'pending',
    idempotency_key text not null,
    ussd_session_id text,
    error_code      text,
    error_message   text,
    created_at      timestamptz not null,
    completed_at    timestamptz,
    constraint redemptions_promo_code_id_key unique (promo_code_id),
    constraint redemptions_idempotency_key_key unique (idempotency_key),
    constraint redemptions_amount_check check (amount > 0),
    constraint redemptions_status_check check (status in ('pending', 'completed', 'failed', 'reversed'))
);
create index redemptions_user_id_created_at_idx on redemptions (user_id, created_at desc);
create index redemptions_status_idx on redemptions (status, created_at desc);
create index redemptions_batch_id_idx on redemptions (batch_id, created_at);

create table disbursements (
    id                  uuid primary key default gen_random_uuid(),
    redemption_id       uuid not null references redemptions (id) on delete restrict,
    msisdn              text not null,
    amount              bigint not null,
    currency            text not null default 'RWF',
    status              text not null default 'queued',
    attempts            integer not null default 0,
    max_attempts        integer not null,
    next_attempt_at     timestamptz not null,
    lease_owner         text,
    lease_expires_at    timestamptz,
    last_attempt_at     timestamptz,
    -- MoMo's financialTransactionId once the transfer succeeded
    momo_transaction_id text,
    -- X-Reference-Id of the current attempt
    momo_reference      uuid,
    error_code          text,
    error_message       text,
    approved_by_user_id uuid references users (id) on delete restrict,
    approved_at         timestamptz,
    disbursed_at        timestamptz,
    created_at          timestamptz not null,
    updated_at          timestamptz not null,
    constraint disbursements_redemption_id_key unique (redemption_id),
    constraint disbursements_momo_transaction_id_key unique (momo_transaction_id),
    constraint disbursements_amount_check check (amount > 0),
    constraint disbursements_attempts_check check (attempts >= 0 and max_attempts between 1 and 6),
    constraint disbursements_status_check check (status in (
        'awaiting_approval', 'queued', 'processing', 'retry_scheduled', 'completed', 'failed', 'payee_invalid'))
);
create index disbursements_status_created_at_idx on disbursements (status, created_at desc);
create index disbursements_due_idx on disbursements (next_attempt_at)
    where status in ('queued', 'retry_scheduled', 'processing');

create table disbursement_attempts (
    id                       uuid primary key default gen_random_uuid(),
    disbursement_id          uuid not null references disbursements (id) on delete restrict,
    attempt_no               integer not null,
    -- the MoMo X-Reference-Id, committed before the HTTP call
    reference_id             uuid not null,
    callback_secret_hash     bytea,
    status                   text not null default 'created',
    http_status              integer,
    error_class              text,
    error_code               text,
    error_message            text,
    financial_transaction_id text,
    created_at               timestamptz not null,
    sent_at                  timestamptz,
    resolved_at              timestamptz,
    constraint disbursement_attempts_reference_id_key unique (reference_id),
    constraint disbursement_attempts_no_key unique (disbursement_id, attempt_no),
    constraint disbursement_attempts_status_check check (status in (
        'created', 'sent', 'pending', 'successful', 'failed', 'unknown')),
    constraint disbursement_attempts_error_class_check check (error_class is null or error_class in (
        'retryable', 'terminal', 'configuration', 'ambiguous'))
);
create index disbursement_attempts_disbursement_idx on disbursement_attempts (disbursement_id, attempt_no);

create table reconciliation_runs (
    id                 uuid primary key default gen_random_uuid(),
    started_by_user_id uuid references users (id) on delete restrict,
    source             text not null,
    status             text not null default 'running',
    period_from        timestamptz,
    period_to          timestamptz,
    checked_count      integer not null default 0,
    discrepancy_count  integer not null default 0,
    created_at         timestamptz not null,
    finished_at        timestamptz,
    constraint reconciliation_runs_source_check check (source in ('status_query', 'statement')),
    constraint reconciliation_runs_status_check check (status in ('running', 'completed', 'failed'))
);

create table reconciliation_items (
    id              uuid primary key default gen_random_uuid(),
    run_id          uuid not null references reconciliation_runs (id) on delete restrict,
    disbursement_id uuid references disbursements (id) on delete restrict,
    reference_id    uuid,
    kind            text not null,
    ours            jsonb,
    theirs          jsonb,
    resolved_at     timestamptz,
    resolution      text,
    created_at      timestamptz not null,
    constraint reconciliation_items_kind_check check (kind in (
        'match', 'status_mismatch', 'amount_mismatch', 'missing_at_momo', 'missing_here'))
);
create index reconciliation_items_run_idx on reconciliation_items (run_id, kind);
