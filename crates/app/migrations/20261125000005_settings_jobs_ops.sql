-- Settings (typed in code, stored per key), their versions, the job queue, worker heartbeats,
-- rate-limit windows and notification templates.
create table system_settings (
    id                 uuid primary key default gen_random_uuid(),
    category           text not null,
    key                text not null,
    value              jsonb not null,
    -- secret values hold an AES-256-GCM envelope, never the plain value
    is_secret          boolean not null default false,
    version            integer not null default 1,
    updated_by_user_id uuid references users (id) on delete restrict,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    constraint system_settings_category_key_key unique (category, key),
    constraint system_settings_category_check check (category in (
        'branding', 'ussd', 'payments', 'business', 'security', 'notifications',
        'analytics', 'integrations', 'backup'))
);

-- One row per change: what changed (secrets masked) and the whole state after it (secrets
-- encrypted), so any version can be restored in one call.
create table setting_versions (
    version            bigint generated always as identity primary key,
    changed_by_user_id uuid references users (id) on delete restrict,
    changed_at         timestamptz not null,
    reason             text,
    rollback_of        bigint references setting_versions (version) on delete restrict,
    changes            jsonb not null,
    snapshot           jsonb not null
);

create table jobs (
    id                 bigint generated always as identity primary key,
    kind               text not null,
    payload            jsonb not null default '{}',
    status             text not null default 'queued',
    priority           smallint not null default 0,
    attempts           integer not null default 0,
    max_attempts       integer not null default 5,
    run_at             timestamptz not null,
    unique_key         text,
    locked_by          text,
    lease_expires_at   timestamptz,
    progress_done      bigint,
    progress_total     bigint,
    progress_message   text,
    result             jsonb,
    last_error         text,
    created_by_user_id uuid references users (id) on delete set null,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    started_at         timestamptz,
    finished_at        timestamptz,
    constraint jobs_status_check check (status in ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
    constraint jobs_attempts_check check (attempts >= 0 and max_attempts >= 1),
    constraint jobs_lease_check check (status <> 'running' or (locked_by is not null and lease_expires_at is not null))
);
create unique index jobs_unique_key_idx on jobs (kind, unique_key)
    where unique_key is not null and status in ('queued', 'running');
create index jobs_due_idx on jobs (priority desc, run_at) where status = 'queued';
create index jobs_lease_idx on jobs (lease_expires_at) where status = 'running';
create index jobs_status_idx on jobs (status, updated_at desc);

create table worker_heartbeats (
    worker_id  text primary key,
    hostname   text not null,
    pid        integer not null,
    started_at timestamptz not null,
    beat_at    timestamptz not null
);

-- Fixed-window counters for sign-in, registration and download throttling.
create table rate_limits (
    id             uuid primary key default gen_random_uuid(),
    key            text not null,
    window_start   timestamptz not null,
    window_seconds integer not null,
    max_requests   integer not null,
    count          integer not null default 0,
    created_at     timestamptz not null,
    updated_at     timestamptz not null,
    constraint rate_limits_window_key unique (key, window_seconds, window_start),
    constraint rate_limits_window_seconds_check check (window_seconds > 0),
    constraint rate_limits_max_requests_check check (max_requests > 0)
);
create index rate_limits_key_idx on rate_limits (key);
create index rate_limits_window_start_idx on rate_limits (window_start);

create table notification_templates (
    id         uuid primary key default gen_random_uuid(),
    key        text not null,
    channel    text not null,
    locale     text not null,
    subject    text,
    body       text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint notification_templates_key_channel_locale_key unique (key, channel, locale),
    constraint notification_templates_channel_check check (channel in ('email', 'sms', 'webhook', 'ussd', 'in_app')),
    constraint notification_templates_locale_check check (locale in ('en', 'rw'))
);
