-- Issue #22, item 3: alerts that reach people by e-mail and SMS (decision 0050).
--
-- The outbox: one row per (alert, channel, recipient, reason, round), written in the transaction
-- that raised the alert (or escalated it, or found a follow-up due) and sent by the
-- `alerts.deliver` job, which claims due rows with SKIP LOCKED and a lease, sends with no
-- transaction open, and records each attempt on the alert's timeline.
create table alert_deliveries (
    id              bigint generated always as identity primary key,
    alert_id        uuid not null references alerts (id) on delete restrict,
    channel         text not null,
    -- an e-mail address, or a phone number in E.164
    recipient       text not null,
    reason          text not null,
    -- 0 for the raise and the escalation, n for the n-th follow-up
    round           integer not null default 0,
    status          text not null default 'queued',
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null,
    -- claimed by a sender until then (a sender that died lets it go when this passes)
    locked_until    timestamptz,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz not null,
    updated_at      timestamptz not null,
    constraint alert_deliveries_channel_check check (channel in ('email', 'sms')),
    constraint alert_deliveries_reason_check check (reason in ('raised', 'escalated', 'follow_up')),
    constraint alert_deliveries_status_check check (status in ('queued', 'sent', 'failed')),
    constraint alert_deliveries_sent_check check ((status = 'sent') = (sent_at is not null)),
    constraint alert_deliveries_attempts_check check (attempts >= 0),
    constraint alert_deliveries_once_key unique (alert_id, channel, recipient, reason, round)
);
create index alert_deliveries_due_idx on alert_deliveries (next_attempt_at, id) where status = 'queued';

-- Escalation by the system (a critical alert not acknowledged in time) and its follow-ups.
alter table alerts
    add column auto_escalated_at timestamptz,
    add column followed_up_at    timestamptz,
    add column follow_ups        integer not null default 0;
create index alerts_critical_live_idx on alerts (created_at) where severity = 'critical' and status <> 'resolved';
