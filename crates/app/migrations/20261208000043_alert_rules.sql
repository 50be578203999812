-- Issue 22, part 2: the rules that raise alerts (decision 0046).

-- Custom alert rules: a metric from the catalogue (alerts::rules::custom::Metric) compared with a
-- threshold over a window, evaluated by the `alerts.evaluate` job. Channels and recipients are
-- stored for delivery (a later part of issue 22); nothing is sent from here.
create table alert_rules (
    id                 uuid primary key default gen_random_uuid(),
    name               text not null,
    metric             text not null,
    comparison         text not null,
    threshold          bigint not null,
    window_minutes     integer not null,
    severity           text not null,
    channels           text[] not null default '{in_app}',
    recipients         text[] not null default '{}',
    enabled            boolean not null default true,
    created_by_user_id uuid references users (id) on delete set null,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    -- what the last evaluation read (for the page)
    last_value         bigint,
    last_evaluated_at  timestamptz,
    constraint alert_rules_name_key unique (name),
    constraint alert_rules_comparison_check check (comparison in ('gt', 'ge', 'lt', 'le')),
    constraint alert_rules_severity_check check (severity in ('info', 'warning', 'critical')),
    constraint alert_rules_window_check check (window_minutes between 1 and 10080),
    constraint alert_rules_channels_check check (channels <@ array['in_app', 'email', 'sms', 'webhook']::text[])
);

-- Real codes tried where they are refused (already redeemed, expired, blocked, campaign closed),
-- written in the refusing hop's transaction: the fraud rules "one code tried from many phones" and
-- "many phones trying codes of one batch" count distinct phones here. Kept a day (the evaluator
-- deletes older rows).
create table fraud_code_tries (
    promo_code_id uuid not null references promo_codes (id) on delete cascade,
    batch_id      uuid not null,
    phone_number  text not null,
    outcome       text not null,
    created_at    timestamptz not null
);
create index fraud_code_tries_code_idx on fraud_code_tries (promo_code_id, created_at);
create index fraud_code_tries_batch_idx on fraud_code_tries (batch_id, created_at);
create index fraud_code_tries_created_at_idx on fraud_code_tries (created_at);

-- Where the evaluator's "since the last run" rules stopped (dead jobs).
create table alert_cursors (
    name text primary key,
    at   timestamptz not null
);

