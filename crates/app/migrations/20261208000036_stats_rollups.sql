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
    -- the hour's start; -infinity for the all-time tier the fold keeps (one row per fact and key)
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

-- Network, language and new-or-returning frozen at redemption (the redemption statement writes
-- them from the USSD hop it serves and the customer's redemptions it already sums), so a recount
-- later gives the same answer whatever the customer does next. `returning_customer`: the customer
-- had an earlier redemption; null on rows written by other paths, whose trigger looks it up.
alter table redemptions add column network_code text, add column language text, add column returning_customer boolean;
update redemptions r set network_code = c.network_code, language = c.language, returning_customer = f.nth > 1
from customers c,
     (select id, row_number() over (partition by user_id order by created_at, id) as nth from redemptions) f
where c.id = r.customer_id and f.id = r.id;

-- The dashboard's exact median of the last hour's payouts reads completions by time.
create index disbursements_disbursed_at_idx on disbursements (disbursed_at) where disbursed_at is not null;

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

-- The insert triggers write one delta row per row and fact, without grouping: the redemption hop
-- inserts one row at a time, and an aggregate's set-up cost more than the rows it saves (`mbelyco
-- bench ussd --rollups-compare`); the fold groups them within a minute. The update triggers, off
-- the hop, net old against new per key.

-- redemptions ------------------------------------------------------------------------------------
-- `returning` when the customer had an earlier redemption: the redemption statement says so; for
-- rows written otherwise, one probe of redemptions_user_id_created_at_idx (earlier by created_at,
-- then id).
create function stats_redemptions_insert() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, state, network, language, segment, n, amount)
    select date_trunc('hour', r.created_at, 'UTC'), f.fact, r.batch_id, f.state, f.network, f.language,
           case when f.fact = 'redemption_state' then ''
                when coalesce(r.returning_customer,
                              exists (select 1 from redemptions e where e.user_id = r.user_id
                                      and e.created_at <= r.created_at and (e.created_at, e.id) < (r.created_at, r.id)))
                then 'returning' else 'new' end,
           1, r.amount
    from new_rows r
    cross join lateral (values ('redemption', '', coalesce(r.network_code, ''), coalesce(r.language, '')),
                               ('redemption_state', r.status, '', '')) f(fact, state, network, language);
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
    select f.hour, f.fact, r.batch_id, f.state, 1, d.amount, f.ms
    from new_rows d join redemptions r on r.id = d.redemption_id
    cross join lateral (values (date_trunc('hour', d.created_at, 'UTC'), 'payout', d.status, 0::int8),
                               (date_trunc('hour', d.disbursed_at, 'UTC'), 'paid', '', stats_ms(d.disbursed_at, r.created_at)))
                       f(hour, fact, state, ms)
    where f.fact = 'payout' or (d.status = 'completed' and d.disbursed_at is not null);
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
    select date_trunc('hour', created_at, 'UTC'), 'attempt', outcome, coalesce(network_code, ''), 1
    from new_rows where outcome = any (stats_attempt_outcomes());
    return null;
end $$;

create trigger ussd_interactions_stats_insert after insert on ussd_interactions
    referencing new table as new_rows for each statement execute function stats_ussd_interactions_insert();

-- redemption_reversals ---------------------------------------------------------------------------
create function stats_reversals_insert() returns trigger language plpgsql as $$
begin
    insert into stats_hourly (hour, fact, batch_id, n, amount)
    select date_trunc('hour', v.decided_at, 'UTC'), 'reversal', r.batch_id, 1, r.amount
    from new_rows v join redemptions r on r.id = v.redemption_id
    where v.status = 'approved' and v.decided_at is not null;
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

-- Every rollup recounted from the base tables, folded, with the all-time tier (hour -infinity, one
-- row per fact and key, which the fold keeps up): the backfill below, and `stats::rebuild`
-- after a bulk load made with the triggers off (a benchmark's million rows). Takes the table's
-- exclusive lock, so no trigger appends meanwhile.
create function stats_rebuild() returns bigint language plpgsql as $$
declare
    written bigint;
begin
    lock table stats_hourly in exclusive mode;
    delete from stats_hourly;
    insert into stats_hourly (hour, fact, batch_id, state, network, language, segment, n, amount, ms, folded)
    select hour, fact, batch_id, state, network, language, segment, n, amount, ms, true from (
        select date_trunc('hour', created_at, 'UTC') as hour, 'redemption' as fact, batch_id, '' as state,
               coalesce(network_code, '') as network, coalesce(language, '') as language,
               case when coalesce(returning_customer, nth > 1) then 'returning' else 'new' end as segment,
               count(*) as n, sum(amount)::int8 as amount, 0::int8 as ms
        from (select r.*, row_number() over (partition by user_id order by created_at, id) as nth
              from redemptions r) r
        group by 1, 3, 5, 6, 7
        union all
        select date_trunc('hour', created_at, 'UTC'), 'redemption_state', batch_id, status, '', '', '',
               count(*), sum(amount)::int8, 0
        from redemptions group by 1, 3, 4
        union all
        select date_trunc('hour', d.created_at, 'UTC'), 'payout', r.batch_id, d.status, '', '', '',
               count(*), sum(d.amount)::int8, 0
        from disbursements d join redemptions r on r.id = d.redemption_id group by 1, 3, 4
        union all
        select date_trunc('hour', d.disbursed_at, 'UTC'), 'paid', r.batch_id, '', '', '', '',
               count(*), sum(d.amount)::int8, sum(stats_ms(d.disbursed_at, r.created_at))::int8
        from disbursements d join redemptions r on r.id = d.redemption_id
        where d.status = 'completed' and d.disbursed_at is not null
        group by 1, 3
        union all
        select date_trunc('hour', created_at, 'UTC'), 'attempt', null, outcome, coalesce(network_code, ''), '', '',
               count(*), 0, 0
        from ussd_interactions where outcome = any (stats_attempt_outcomes())
        group by 1, 4, 5
        union all
        select date_trunc('hour', v.decided_at, 'UTC'), 'reversal', r.batch_id, '', '', '', '',
               count(*), sum(r.amount)::int8, 0
        from redemption_reversals v join redemptions r on r.id = v.redemption_id
        where v.status = 'approved' and v.decided_at is not null
        group by 1, 3) counted;
    get diagnostics written = row_count;
    -- the all-time tier: one row per fact and key at hour -infinity (`stats::read::since_beginning`)
    insert into stats_hourly (hour, fact, batch_id, state, network, language, segment, n, amount, ms, folded)
    select '-infinity', fact, batch_id, state, network, language, segment, sum(n), sum(amount), sum(ms), true
    from stats_hourly where hour > '-infinity'
    group by fact, batch_id, state, network, language, segment;
    return written;
end $$;

select stats_rebuild();
