-- Audit retention (issue #23 item 3, decision 0056): `audit_logs` partitioned by Kigali month, so
-- that a month past `security.audit.retentionDays` is archived (exported with its chain fields)
-- and dropped whole, never deleted row by row. The chain itself (`audit_chain`: position, row id,
-- hashes) is kept for every row, archived or not, so `audit verify` still walks every link; a
-- `retention` chain head records how far rows were archived.

-- seq: a plain sequence (PostgreSQL 15 has no identity columns on partitioned tables)
create sequence audit_log_seq as bigint;

alter table audit_logs rename to audit_logs_unpartitioned;

create table audit_logs (
    id             uuid not null default gen_random_uuid(),
    seq            bigint not null default nextval('audit_log_seq'),
    actor_type     text not null,
    actor_user_id  uuid,
    action         text not null,
    entity_type    text not null,
    entity_id      text,
    session_id     uuid,
    ip             inet,
    user_agent     text,
    request_id     text,
    before         jsonb,
    after          jsonb,
    metadata       jsonb not null default '{}',
    created_at     timestamptz not null,
    constraint audit_logs_actor_type_check check (actor_type in ('user', 'customer', 'system', 'api_key', 'anonymous'))
) partition by range (created_at);
alter sequence audit_log_seq owned by audit_logs.seq;

-- rows whose month has no partition (a clock far off, or the partition job not run) land here;
-- retention never drops it
create table audit_logs_default partition of audit_logs default;

-- The partition of the Kigali month holding `day`: created when missing (with the truncate guard
-- a partition does not inherit). False when rows of that month already sit in the default
-- partition: they stay there, and the month keeps using it.
create function audit_logs_ensure_partition(day date) returns boolean
language plpgsql as $$
declare
    month timestamp := date_trunc('month', day::timestamp);
    lo timestamptz := month at time zone 'Africa/Kigali';
    hi timestamptz := (month + interval '1 month') at time zone 'Africa/Kigali';
    name text := 'audit_logs_p' || to_char(month, 'YYYY_MM');
begin
    if to_regclass(name) is not null then
        return true;
    end if;
    perform pg_advisory_xact_lock(hashtext('audit_logs_partitions'));
    if to_regclass(name) is not null then
        return true;
    end if;
    if exists (select 1 from audit_logs_default where created_at >= lo and created_at < hi) then
        return false;
    end if;
    execute format('create table %I partition of audit_logs for values from (%L) to (%L)', name, lo, hi);
    execute format(
        'create trigger audit_logs_no_truncate before truncate on %I for each statement execute function audit_append_only()',
        name);
    return true;
end;
$$;

select audit_logs_ensure_partition(m::date)
from generate_series(
    date_trunc('month', coalesce((select min(created_at) from audit_logs_unpartitioned), now()) at time zone 'Africa/Kigali'),
    date_trunc('month', now() at time zone 'Africa/Kigali') + interval '3 months',
    interval '1 month') as m;

insert into audit_logs (id, seq, actor_type, actor_user_id, action, entity_type, entity_id, session_id, ip,
                        user_agent, request_id, before, after, metadata, created_at)
select id, seq, actor_type, actor_user_id, action, entity_type, entity_id, session_id, ip,
       user_agent, request_id, before, after, metadata, created_at
from audit_logs_unpartitioned;
select setval('audit_log_seq', coalesce((select max(seq) from audit_logs_unpartitioned), 0) + 1, false);

-- drops audit_chain's foreign key too: a chain row outlives its archived audit row
drop table audit_logs_unpartitioned cascade;

alter table audit_logs add constraint audit_logs_pkey primary key (id, created_at);
alter table audit_logs add constraint audit_logs_seq_key unique (seq, created_at);
create index audit_logs_entity_idx on audit_logs (entity_type, entity_id, created_at desc);
create index audit_logs_actor_idx on audit_logs (actor_user_id, created_at desc);
create index audit_logs_action_idx on audit_logs (action, created_at desc);
create index audit_logs_created_at_idx on audit_logs using brin (created_at);
create index audit_logs_search_idx on audit_logs using gin (audit_search_doc(entity_id, before, after, metadata));
create index audit_logs_created_seq_idx on audit_logs (created_at desc, seq desc);
create index audit_logs_ip_idx on audit_logs (ip, created_at desc) where ip is not null;
create index audit_logs_request_idx on audit_logs (request_id) where request_id is not null;
create index audit_logs_actor_type_idx on audit_logs (actor_type, created_at desc) where actor_type <> 'user';

create trigger audit_logs_guard
    before update or delete on audit_logs
    for each row execute function audit_append_only();
create trigger audit_logs_no_truncate
    before truncate on audit_logs
    for each statement execute function audit_append_only();
create trigger audit_logs_no_truncate
    before truncate on audit_logs_default
    for each statement execute function audit_append_only();

-- the sealer finds a waiting row in its own partition
alter table audit_pending add column created_at timestamptz;
update audit_pending p set created_at = a.created_at from audit_logs a where a.id = p.id;
alter table audit_pending alter column created_at set not null;

-- One row per archived month: where its rows went, so an auditor can fetch and verify them.
create table audit_archives (
    id               uuid primary key default gen_random_uuid(),
    partition_name   text not null unique,
    range_from       timestamptz not null,
    range_to         timestamptz not null,
    row_count        bigint not null,
    first_chain_seq  bigint,
    last_chain_seq   bigint,
    file_path        text not null,
    size_bytes       bigint not null,
    sha256           text not null,
    archived_at      timestamptz not null
);
create trigger audit_archives_guard
    before update or delete on audit_archives
    for each row execute function audit_append_only();
