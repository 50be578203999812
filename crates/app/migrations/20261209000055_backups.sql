-- Database backups (issue #23 item 4, decision 0053): one row per backup, written by the
-- `backup` module only. The dump itself lives in storage (a local folder or S3) under `object_key`.
create table backups (
    id uuid primary key,
    job_id bigint,
    requested_by uuid references users (id) on delete set null,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null default 'running'
        check (status in ('running', 'succeeded', 'failed', 'expired')),
    storage text not null check (storage in ('local', 's3')),
    object_key text not null,
    size_bytes bigint,
    sha256 text,
    compressed boolean not null,
    encrypted boolean not null,
    -- row counts of the key tables taken inside pg_dump's snapshot
    counts jsonb not null default '{}'::jsonb,
    verify_status text not null default 'pending'
        check (verify_status in ('pending', 'passed', 'failed')),
    verified_at timestamptz,
    verify_detail jsonb not null default '{}'::jsonb,
    error text,
    expired_at timestamptz
);

create index backups_started on backups (started_at desc);
