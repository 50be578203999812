-- Batches and promo codes. Money is whole Rwandan francs in bigint: RWF has no minor unit in
-- MoMo (amounts are integer strings), and integers cannot drift the way floats do.
create table batches (
    id                 uuid primary key default gen_random_uuid(),
    -- human batch number printed on sheets; display only
    batch_number       bigint generated always as identity,
    name               text not null,
    description        text not null default '',
    total_codes        integer not null,
    amount_per_code    bigint not null,
    currency           text not null default 'RWF',
    expiration_date    timestamptz not null,
    assigned_user_id   uuid references users (id) on delete restrict,
    created_by_user_id uuid references users (id) on delete restrict,
    status             text not null default 'active',
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    constraint batches_name_key unique (name),
    constraint batches_batch_number_key unique (batch_number),
    constraint batches_total_codes_check check (total_codes between 1 and 10000000),
    constraint batches_amount_per_code_check check (amount_per_code > 0),
    constraint batches_currency_check check (currency ~ '^[A-Z]{3}$'),
    constraint batches_status_check check (status in ('active', 'expired', 'blocked', 'completed'))
);
create index batches_status_idx on batches (status, created_at desc);
create index batches_assigned_user_id_idx on batches (assigned_user_id);

create table promo_codes (
    id          uuid primary key default gen_random_uuid(),
    code        text not null,
    batch_id    uuid not null references batches (id) on delete restrict,
    -- position within the batch's print run (1..N): page = ceil(serial / 12)
    serial      integer not null,
    amount      bigint not null,
    currency    text not null default 'RWF',
    status      text not null default 'active',
    created_at  timestamptz not null,
    expires_at  timestamptz,
    used_at     timestamptz,
    redeemed_at timestamptz,
    reported_at timestamptz,
    blocked_at  timestamptz,
    metadata    jsonb not null default '{}',
    constraint promo_codes_code_key unique (code),
    constraint promo_codes_batch_serial_key unique (batch_id, serial),
    constraint promo_codes_serial_check check (serial >= 1),
    constraint promo_codes_amount_check check (amount > 0),
    constraint promo_codes_status_check check (status in ('active', 'used', 'expired', 'redeemed', 'reported', 'blocked')),
    constraint promo_codes_code_format_check check (code ~ '^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$')
);
create index promo_codes_batch_id_status_idx on promo_codes (batch_id, status);
create index promo_codes_status_idx on promo_codes (status);
-- partial code search (3+ characters) from the codes page
create index promo_codes_code_trgm_idx on promo_codes using gin (code gin_trgm_ops);

-- Chain of custody: every download of codes (who, when, format, range, count).
create table code_downloads (
    id                 uuid primary key default gen_random_uuid(),
    batch_id           uuid not null references batches (id) on delete restrict,
    user_id            uuid references users (id) on delete restrict,
    format             text not null,
    serial_from        integer,
    serial_to          integer,
    code_count         integer not null,
    created_at         timestamptz not null,
    constraint code_downloads_format_check check (format in ('pdf', 'csv'))
);
create index code_downloads_batch_id_idx on code_downloads (batch_id, created_at desc);
