-- Identity and access: users, sessions, verifications, MFA, API keys, roles and permissions.
create extension if not exists citext;
create extension if not exists pg_trgm;

create table users (
    id                    uuid primary key default gen_random_uuid(),
    kind                  text not null default 'staff',
    email                 citext,
    phone_number          text,
    full_name             text not null default '',
    password_hash         text,
    is_active             boolean not null default true,
    is_verified           boolean not null default false,
    approval_status       text not null default 'approved',
    mfa_enabled           boolean not null default false,
    failed_login_attempts integer not null default 0,
    lockout_until         timestamptz,
    password_changed_at   timestamptz,
    last_login_at         timestamptz,
    created_at            timestamptz not null,
    updated_at            timestamptz not null,
    constraint users_kind_check check (kind in ('staff', 'customer')),
    constraint users_approval_status_check check (approval_status in ('approved', 'pending', 'rejected')),
    constraint users_email_key unique (email),
    constraint users_phone_number_key unique (phone_number),
    constraint users_failed_login_attempts_check check (failed_login_attempts >= 0),
    -- staff sign in with an email; customers are known by their phone number
    constraint users_identifier_check check (
        (kind = 'staff' and email is not null) or (kind = 'customer' and phone_number is not null)
    )
);

create table sessions (
    id             uuid primary key default gen_random_uuid(),
    user_id        uuid not null references users (id) on delete cascade,
    token_hash     bytea not null,
    stage          text not null default 'password',
    csrf_token     text not null,
    ip             inet,
    user_agent     text,
    created_at     timestamptz not null,
    updated_at     timestamptz not null,
    last_seen_at   timestamptz not null,
    expires_at     timestamptz not null,
    revoked_at     timestamptz,
    revoked_reason text,
    constraint sessions_token_hash_key unique (token_hash),
    constraint sessions_stage_check check (stage in ('password', 'mfa_enrol', 'full'))
);
create index sessions_user_id_idx on sessions (user_id, created_at desc);

create table verifications (
    id          uuid primary key default gen_random_uuid(),
    user_id     uuid not null references users (id) on delete cascade,
    type        text not null,
    token_hash  bytea not null,
    expires_at  timestamptz not null,
    consumed_at timestamptz,
    created_at  timestamptz not null,
    constraint verifications_token_hash_key unique (token_hash),
    constraint verifications_type_check check (type in ('account_setup', 'password_reset', 'email_verification'))
);

-- TOTP secret (encrypted under SECRET_KEY) and the last accepted time step, so a code is never replayed.
create table user_mfa (
    user_id        uuid primary key references users (id) on delete cascade,
    secret_enc     text not null,
    confirmed_at   timestamptz,
    last_used_step bigint,
    created_at     timestamptz not null,
    updated_at     timestamptz not null
);

create table mfa_backup_codes (
    id         uuid primary key default gen_random_uuid(),
    user_id    uuid not null references users (id) on delete cascade,
    code_hash  text not null,
    used_at    timestamptz,
    created_at timestamptz not null
);
create index mfa_backup_codes_user_id_idx on mfa_backup_codes (user_id);

create table api_keys (
    id           uuid primary key default gen_random_uuid(),
    user_id      uuid not null references users (id) on delete restrict,
    name         text not null,
    prefix       text not null,
    key_hash     bytea not null,
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz not null,
    constraint api_keys_key_hash_key unique (key_hash),
    constraint api_keys_prefix_key unique (prefix)
);

create table roles (
    id          uuid primary key default gen_random_uuid(),
    name        text not null,
    description text not null default '',
    is_system   boolean not null default false,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    constraint roles_name_key unique (name)
);

create table permissions (
    id          uuid primary key default gen_random_uuid(),
    key         text not null,
    description text not null,
    category    text not null,
    -- true for keys this project added where a PRD route needs one (ACCESS.md)
    is_added    boolean not null default false,
    constraint permissions_key_key unique (key)
);

create table role_permissions (
    role_id       uuid not null references roles (id) on delete cascade,
    permission_id uuid not null references permissions (id) on delete restrict,
    created_at    timestamptz not null,
    constraint role_permissions_pkey primary key (role_id, permission_id)
);

create table user_role_assignments (
    user_id             uuid not null references users (id) on delete cascade,
    role_id             uuid not null references roles (id) on delete restrict,
    assigned_by_user_id uuid references users (id) on delete set null,
    created_at          timestamptz not null,
    constraint user_role_assignments_pkey primary key (user_id, role_id)
);
create index user_role_assignments_role_id_idx on user_role_assignments (role_id);

-- Assigning or revoking a role needs a second Super Administrator (issue 3).
create table role_change_requests (
    id                   uuid primary key default gen_random_uuid(),
    user_id              uuid not null references users (id) on delete restrict,
    role_id              uuid not null references roles (id) on delete restrict,
    action               text not null,
    status               text not null default 'pending',
    requested_by_user_id uuid not null references users (id) on delete restrict,
    decided_by_user_id   uuid references users (id) on delete restrict,
    reason               text,
    created_at           timestamptz not null,
    decided_at           timestamptz,
    constraint role_change_requests_action_check check (action in ('assign', 'revoke')),
    constraint role_change_requests_status_check check (status in ('pending', 'approved', 'rejected', 'cancelled')),
    constraint role_change_requests_second_person_check check (decided_by_user_id is null or decided_by_user_id <> requested_by_user_id)
);
create unique index role_change_requests_one_pending_idx
    on role_change_requests (user_id, role_id) where status = 'pending';
