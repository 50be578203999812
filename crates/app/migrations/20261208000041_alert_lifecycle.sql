-- Issue #22, first part: the alert lifecycle (open → acknowledged → resolved, escalated and
-- snoozed by hand), its timeline, and the fraud review queue's block (decision 0044).

alter table alerts
    add column status           text not null default 'open',
    add column resolved_at      timestamptz,
    add column resolved_by      uuid references users (id) on delete restrict,
    add column resolution_note  text,
    add column escalation_level integer not null default 0,
    add column escalated_at     timestamptz,
    -- hidden from the open lists and the badge until then; a repeat meanwhile only counts
    add column snoozed_until    timestamptz;

-- Before this, acknowledging (or the work being done) took an alert off every list: that is
-- what resolved means now.
update alerts set status = 'resolved', resolved_at = acknowledged_at, resolved_by = acknowledged_by
where acknowledged_at is not null;

alter table alerts
    add constraint alerts_status_check check (status in ('open', 'acknowledged', 'resolved')),
    add constraint alerts_resolved_check check ((status = 'resolved') = (resolved_at is not null)),
    add constraint alerts_acknowledged_check check (status <> 'acknowledged' or acknowledged_at is not null);

-- deduplicated while not resolved (an acknowledged alert that repeats counts an occurrence)
drop index alerts_open_dedupe_idx;
drop index alerts_open_idx;
create unique index alerts_live_dedupe_idx on alerts (dedupe_key) where status <> 'resolved';
create index alerts_live_idx on alerts (audience, created_at desc) where status <> 'resolved';
-- the console's keyset order
create index alerts_created_idx on alerts (created_at desc, id desc);

-- The alert's timeline: one row per step, never one per repeat (the count stays on the alert).
-- Delivery rows (e-mail, SMS, webhook) name their channel, recipient and outcome.
create table alert_events (
    id            bigint generated always as identity primary key,
    alert_id      uuid not null references alerts (id) on delete restrict,
    kind          text not null,
    at            timestamptz not null,
    actor_user_id uuid references users (id) on delete restrict,
    note          text,
    detail        jsonb not null default '{}',
    channel       text,
    recipient     text,
    outcome       text,
    constraint alert_events_kind_check
        check (kind in ('raised', 'acknowledged', 'escalated', 'snoozed', 'resolved', 'delivery')),
    constraint alert_events_delivery_check
        check ((kind = 'delivery') = (channel is not null and outcome is not null))
);
create index alert_events_alert_idx on alert_events (alert_id, id);

insert into alert_events (alert_id, kind, at, detail)
select id, 'raised', created_at, '{}' from alerts;
insert into alert_events (alert_id, kind, at, actor_user_id, detail)
select id, 'resolved', resolved_at, resolved_by, '{"migrated": true}' from alerts where status = 'resolved';

-- The fraud review queue: staff clear a flagged phone or block it (a blocked phone cannot redeem).
alter table customers
    add column blocked_at      timestamptz,
    add column blocked_reason  text,
    add column reviewed_at     timestamptz,
    add column reviewed_by     uuid references users (id) on delete restrict;
create index customers_flagged_idx on customers (flagged_at desc) where flagged_at is not null or blocked_at is not null;
