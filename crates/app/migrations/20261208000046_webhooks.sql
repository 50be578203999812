-- Webhooks for integrators (issue #22 part 4, decision 0049): endpoints managed from the panel and
-- an outbox of signed deliveries, written in the transaction of the change that emits the event.

create table webhook_endpoints (
    id                   uuid primary key,
    url                  text not null constraint webhook_endpoints_url_check
                             check (url ~ '^https?://' and length(url) <= 2000),
    -- from the catalogue (`webhooks::EventType`): redemption.completed, disbursement.completed,
    -- disbursement.failed, alert.raised, test
    events               text[] not null constraint webhook_endpoints_events_check check (cardinality(events) >= 1),
    -- an AES-256-GCM envelope (crate::crypto::SecretBox), bound to the endpoint's id; never shown
    secret               text not null,
    retry_attempts       integer not null constraint webhook_endpoints_retry_check check (retry_attempts between 0 and 10),
    -- turned off by a person (`enabled`), or paused by the system after repeated failures
    enabled              boolean not null default true,
    paused_at            timestamptz,
    paused_reason        text,
    -- deliveries that ended `failed` since the last one delivered; the pause rule reads it
    consecutive_failures integer not null default 0,
    description          text not null default '',
    created_at           timestamptz not null,
    updated_at           timestamptz not null
);
create index webhook_endpoints_events_idx on webhook_endpoints using gin (events) where enabled and paused_at is null;

-- One row per event and endpoint: the outbox. A `webhook.deliver` job sends it and records each
-- attempt here; an event reaches an endpoint once (the unique key), however often it is emitted.
create table webhook_deliveries (
    id               uuid primary key default gen_random_uuid(),
    endpoint_id      uuid not null references webhook_endpoints (id) on delete cascade,
    event_id         uuid not null,
    event_type       text not null,
    payload          jsonb not null,
    status           text not null default 'pending'
                         constraint webhook_deliveries_status_check check (status in ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         integer not null default 0,
    max_attempts     integer not null constraint webhook_deliveries_attempts_check check (max_attempts between 1 and 11),
    next_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    last_duration_ms integer,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    finished_at      timestamptz,
    constraint webhook_deliveries_event_key unique (endpoint_id, event_type, event_id)
);
-- an endpoint's delivery log, newest first (keyset)
create index webhook_deliveries_log_idx on webhook_deliveries (endpoint_id, created_at desc, id desc);

-- The single webhook URL of the notification settings never took effect (it was marked for this
-- issue); the endpoints above replace it. Its stored keys are dropped so no value lingers, the
-- secret included.
delete from system_settings
 where category = 'notifications' and key in ('webhookUrl', 'webhookSecret', 'webhookEvents');
