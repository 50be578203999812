-- Figures from rollups, never from scans (issue #21, decision 0039). Statement-level triggers over
-- transition tables append delta rows to `stats_hourly`, one per (hour, fact, key) a statement
-- touched; the `stats.fold` job compacts them to one row per key now and then. A reader sums the
-- rows of its range, folded or not, so figures are exact at once (the same idea as
-- `batch_code_counts`, decision 0011).
--
-- Facts (`fact`), each by UTC hour (`hour`; a Kigali day is the 24 UTC hours from 22:00):
--   redemption        every redemption by its created hour: batch, network, language, segment
--                     (new | returning), frozen at redemption; a reversal does not remove it
--   redemption_state  redemptions by created hour, batch and current status (`state`), amount
--   payout            disbursements by created hour, batch and current status, amount
--   paid              disbursements that reached `completed`, by the hour of `disbursed_at`:
--                     batch, amount, and `ms` = the milliseconds from redemption to money
--   attempt           USSD code attempts by hour, outcome (`state`) and network
--   reversal          approved reversals by decision hour, batch, amount
create table stats_hourly (
    hour     timestamptz not null,
    fact     text not null,
    batch_id uuid,
    state    text not null default '',
    network  text not null default '',
    language text not null default '',
    segment  text not null default '',
    n        bigint not null default 0,
    amount   bigint not null default 0,
    ms       bigint not null default 0,
    -- false for a trigger's delta; the fold writes one folded row per key of the hours it folds
    folded   boolean not null default false
);
create index stats_hourly_fact_hour_idx on stats_hourly (fact, hour);
create index stats_hourly_unfolded_idx on stats_hourly (hour, fact) where not folded;

-- Network and language frozen at redemption (the redemption statement writes them from the USSD
-- hop it serves), so a recount later gives the same answer whatever the customer does next.
alter table redemptions add column network_code text, add column language text;
update redemptions r set network_code = c.network_code, language = c.language
from customers c where c.id = r.customer_id;

-- The dashboard's exact median of the last hour's payouts reads completions by time.
create index disbursements_disbursed_at_idx on disbursements (disbursed_at) where disbursed_at is not null;

-- A redemption is `returning` when its customer has an earlier one (by created_at, then id): the
-- check probes redemptions_user_id_created_at_idx.
create function stats_segment(user_id uuid, created_at timestamptz, id uuid) returns text
language sql stable as $$
    select case when exists (select 1 from redemptions e where e.user_id = $1 and e.created_at <= $2
                                 and (e.created_at, e.id) < ($2, $3))
                then 'returning' else 'new' end
$$;

-- Milliseconds from a redemption to its money.
create function stats_ms(disbursed_at timestamptz, redeemed_at timestamptz) returns bigint
language sql immutable as $$
    select (extract(epoch from ($1 - $2)) * 1000)::int8
$$;

-- The outcomes of the USSD interaction log that are code attempts (`redemption::limits::ATTEMPTS`
-- and the two refusals of the attempt limits; `stats::ATTEMPT_OUTCOMES` is the same list).
create function stats_attempt_outcomes() returns text[] language sql immutable as $$
    select array['redeemed', 'code_valid', 'unknown_code', 'already_redeemed', 'expired', 'blocked',
                 'campaign_closed', 'customer_limit', 'cooling_down', 'typo', 'not_a_code',
                 'rate_limited', 'phone_blocked']
$$;

-- redemptions ------------------------------------------------------------------------------------
create function stats_redemptions_insert() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, state, network, language, segment, n, amount)
    select hour, 'redemption', batch_id, '', network, language, segment, count(*), sum(amount)
    from (select date_trunc('hour', created_at, 'UTC') as hour, batch_id, coalesce(network_code, '') as network,
                 coalesce(language, '') as language, stats_segment(user_id, created_at, id) as segment, amount
          from new_rows) r
    group by hour, batch_id, network, language, segment
    union all
    select date_trunc('hour', created_at, 'UTC'), 'redemption_state', batch_id, status, '', '', '', count(*), sum(amount)
    from new_rows group by 1, 3, 4;
    return null;
end $$;

create function stats_redemptions_update() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, state, n, amount)
    select hour, 'redemption_state', batch_id, status, sum(n), sum(amount) from (
        select date_trunc('hour', created_at, 'UTC') as hour, batch_id, status, -count(*) as n, -sum(amount) as amount
        from old_rows group by 1, 2, 3
        union all
        select date_trunc('hour', created_at, 'UTC'), batch_id, status, count(*), sum(amount)
        from new_rows group by 1, 2, 3) d
    group by hour, batch_id, status
    having sum(n) <> 0 or sum(amount) <> 0;
    return null;
end $$;

create trigger redemptions_stats_insert after insert on redemptions
    referencing new table as new_rows for each statement execute function stats_redemptions_insert();
create trigger redemptions_stats_update after update on redemptions
    referencing old table as old_rows new table as new_rows for each statement execute function stats_redemptions_update();

-- disbursements ----------------------------------------------------------------------------------
create function stats_disbursements_insert() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, state, n, amount, ms)
    select date_trunc('hour', d.created_at, 'UTC'), 'payout', r.batch_id, d.status, count(*), sum(d.amount), 0
    from new_rows d join redemptions r on r.id = d.redemption_id
    group by 1, 3, 4
    union all
    select date_trunc('hour', d.disbursed_at, 'UTC'), 'paid', r.batch_id, '', count(*), sum(d.amount),
           sum(stats_ms(d.disbursed_at, r.created_at))
    from new_rows d join redemptions r on r.id = d.redemption_id
    where d.status = 'completed' and d.disbursed_at is not null
    group by 1, 3;
    return null;
end $$;

-- Only rows whose counted columns changed are looked at (a lease renewal adds nothing).
create function stats_disbursements_update() returns trigger language plpgsql as $$
begin
    with changed as (
        select o.id from old_rows o join new_rows n on n.id = o.id
        where o.status <> n.status or o.amount <> n.amount or o.created_at <> n.created_at
           or o.disbursed_at is distinct from n.disbursed_at or o.redemption_id <> n.redemption_id),
    side as (
        select -1 as sign, o.redemption_id, o.status, o.amount, o.created_at, o.disbursed_at
        from old_rows o where o.id in (select id from changed)
        union all
        select 1, n.redemption_id, n.status, n.amount, n.created_at, n.disbursed_at
        from new_rows n where n.id in (select id from changed)),
    facts as (
        select date_trunc('hour', s.created_at, 'UTC') as hour, 'payout' as fact, r.batch_id, s.status as state,
               s.sign as n, s.sign * s.amount as amount, 0::int8 as ms
        from side s join redemptions r on r.id = s.redemption_id
        union all
        select date_trunc('hour', s.disbursed_at, 'UTC'), 'paid', r.batch_id, '', s.sign, s.sign * s.amount,
               s.sign * stats_ms(s.disbursed_at, r.created_at)
        from side s join redemptions r on r.id = s.redemption_id
        where s.status = 'completed' and s.disbursed_at is not null)
    insert into stats_hourly (hour, fact, batch_id, state, n, amount, ms)
    select hour, fact, batch_id, state, sum(n), sum(amount), sum(ms) from facts
    group by hour, fact, batch_id, state
    having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0;
    return null;
end $$;

create trigger disbursements_stats_insert after insert on disbursements
    referencing new table as new_rows for each statement execute function stats_disbursements_insert();
create trigger disbursements_stats_update after update on disbursements
    referencing old table as old_rows new table as new_rows for each statement execute function stats_disbursements_update();

-- ussd_interactions (the raw log may be deleted by retention; its attempts stay counted) ---------
create function stats_ussd_interactions_insert() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, state, network, n)
    select date_trunc('hour', created_at, 'UTC'), 'attempt', outcome, coalesce(network_code, ''), count(*)
    from new_rows where outcome = any (stats_attempt_outcomes())
    group by 1, 3, 4;
    return null;
end $$;

create trigger ussd_interactions_stats_insert after insert on ussd_interactions
    referencing new table as new_rows for each statement execute function stats_ussd_interactions_insert();

-- redemption_reversals ---------------------------------------------------------------------------
create function stats_reversals_insert() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, n, amount)
    select date_trunc('hour', v.decided_at, 'UTC'), 'reversal', r.batch_id, count(*), sum(r.amount)
    from new_rows v join redemptions r on r.id = v.redemption_id
    where v.status = 'approved' and v.decided_at is not null
    group by 1, 3;
    return null;
end $$;

create function stats_reversals_update() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, n, amount)
    select hour, 'reversal', batch_id, sum(n), sum(amount) from (
        select date_trunc('hour', v.decided_at, 'UTC') as hour, r.batch_id, -1 as n, -r.amount as amount
        from old_rows v join redemptions r on r.id = v.redemption_id
        where v.status = 'approved' and v.decided_at is not null
        union all
        select date_trunc('hour', v.decided_at, 'UTC'), r.batch_id, 1, r.amount
        from new_rows v join redemptions r on r.id = v.redemption_id
        where v.status = 'approved' and v.decided_at is not null) d
    group by hour, batch_id
    having sum(n) <> 0 or sum(amount) <> 0;
    return null;
end $$;

create trigger redemption_reversals_stats_insert after insert on redemption_reversals
    referencing new table as new_rows for each statement execute function stats_reversals_insert();
create trigger redemption_reversals_stats_update after update on redemption_reversals
    referencing old table as old_rows new table as new_rows for each statement execute function stats_reversals_update();

-- backfill: what the triggers would have written, folded (the default is then flipped back)
alter table stats_hourly alter column folded set default true;
insert into stats_hourly (hour, fact, batch_id, state, network, language, segment, n, amount)
select hour, 'redemption', batch_id, '', network, language, segment, count(*), sum(amount)
from (select date_trunc('hour', created_at, 'UTC') as hour, batch_id, coalesce(network_code, '') as network,
             coalesce(language, '') as language, stats_segment(user_id, created_at, id) as segment, amount
      from redemptions) r
group by hour, batch_id, network, language, segment;

insert into stats_hourly (hour, fact, batch_id, state, n, amount)
select date_trunc('hour', created_at, 'UTC'), 'redemption_state', batch_id, status, count(*), sum(amount)
from redemptions group by 1, 3, 4;

insert into stats_hourly (hour, fact, batch_id, state, n, amount)
select date_trunc('hour', d.created_at, 'UTC'), 'payout', r.batch_id, d.status, count(*), sum(d.amount)
from disbursements d join redemptions r on r.id = d.redemption_id group by 1, 3, 4;

insert into stats_hourly (hour, fact, batch_id, n, amount, ms)
select date_trunc('hour', d.disbursed_at, 'UTC'), 'paid', r.batch_id, count(*), sum(d.amount),
       sum(stats_ms(d.disbursed_at, r.created_at))
from disbursements d join redemptions r on r.id = d.redemption_id
where d.status = 'completed' and d.disbursed_at is not null
group by 1, 3;

insert into stats_hourly (hour, fact, state, network, n)
select date_trunc('hour', created_at, 'UTC'), 'attempt', outcome, coalesce(network_code, ''), count(*)
from ussd_interactions where outcome = any (stats_attempt_outcomes())
group by 1, 3, 4;

insert into stats_hourly (hour, fact, batch_id, n, amount)
select date_trunc('hour', v.decided_at, 'UTC'), 'reversal', r.batch_id, count(*), sum(r.amount)
from redemption_reversals v join redemptions r on r.id = v.redemption_id
where v.status = 'approved' and v.decided_at is not null
group by 1, 3;


alter table stats_hourly alter column folded set default false;
