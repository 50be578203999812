-- History of every status change of a promo code, single or bulk: who, when, from what to what,
-- why, and the operation it belonged to (one id per request, shared by every code a bulk
-- operation changed). The matching audit row carries the same operation id.
create table promo_code_events (
    id            uuid primary key default gen_random_uuid(),
    promo_code_id uuid not null references promo_codes (id) on delete cascade,
    at            timestamptz not null,
    from_status   text not null,
    to_status     text not null,
    actor_user_id uuid references users (id) on delete restrict,
    reason        text not null default '',
    operation_id  uuid not null,
    constraint promo_code_events_status_check check (
        from_status in ('active', 'used', 'expired', 'redeemed', 'reported', 'blocked')
        and to_status in ('active', 'used', 'expired', 'redeemed', 'reported', 'blocked'))
);
create index promo_code_events_code_idx on promo_code_events (promo_code_id, at desc);
create index promo_code_events_operation_idx on promo_code_events (operation_id);
