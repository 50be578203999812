-- Identity: API keys act with one role's permissions; security events for repeated failures.
alter table api_keys
    add column role_id uuid references roles (id) on delete restrict,
    add column created_by_user_id uuid references users (id) on delete restrict;
update api_keys set role_id = (select id from roles where name = 'Viewer') where role_id is null;
alter table api_keys alter column role_id set not null;

-- Security events raised by identity (repeated sign-in failures, lockouts, throttling); the
-- alerts capability shows and acknowledges them.
create table security_events (
    id              uuid primary key default gen_random_uuid(),
    kind            text not null,
    severity        text not null,
    user_id         uuid references users (id) on delete restrict,
    ip              inet,
    details         jsonb not null default '{}',
    created_at      timestamptz not null,
    acknowledged_at timestamptz,
    acknowledged_by uuid references users (id) on delete restrict,
    constraint security_events_kind_check check (kind in ('account_locked', 'ip_throttled', 'repeated_failures', 'totp_replay')),
    constraint security_events_severity_check check (severity in ('info', 'warning', 'critical'))
);
create index security_events_created_at_idx on security_events (created_at desc);

-- The registration form's optional fields.
alter table users
    add column company text,
    add column department text,
    add column registered_at timestamptz,
    add column decided_by_user_id uuid references users (id) on delete restrict,
    add column decided_at timestamptz;
