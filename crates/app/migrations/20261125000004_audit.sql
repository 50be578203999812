-- Append-only audit log with a SHA-256 hash chain (DESIGN.md section 7).
-- Writers insert a row (and its place in the sealing queue) inside their own transaction; a
-- single sealer (serialised by an advisory lock) later appends each committed row to the chain
-- in audit_chain. Writers therefore never queue behind one another on the chain head, and no
-- audit row is ever updated.
create table audit_logs (
    id             uuid primary key default gen_random_uuid(),
    -- insertion order (display, and the order the sealer takes pending rows in)
    seq            bigint generated always as identity,
    actor_type     text not null,
    actor_user_id  uuid references users (id) on delete restrict,
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
    constraint audit_logs_seq_key unique (seq),
    constraint audit_logs_actor_type_check check (actor_type in ('user', 'customer', 'system', 'api_key', 'anonymous'))
);
create index audit_logs_entity_idx on audit_logs (entity_type, entity_id, created_at desc);
create index audit_logs_actor_idx on audit_logs (actor_user_id, created_at desc);
create index audit_logs_action_idx on audit_logs (action, created_at desc);
create index audit_logs_created_at_idx on audit_logs using brin (created_at);

-- Rows written but not yet sealed into the chain: a work queue for the sealer.
create table audit_pending (
    seq bigint primary key,
    id  uuid not null
);

-- The chain: position, row, predecessor's hash, hash. integrity_hash =
-- sha256(prev_hash || chain_seq || canonical audit row).
create table audit_chain (
    chain_seq      bigint primary key,
    audit_id       uuid not null references audit_logs (id) on delete restrict,
    prev_hash      bytea not null,
    integrity_hash bytea not null,
    sealed_at      timestamptz not null,
    constraint audit_chain_audit_id_key unique (audit_id),
    -- two rows can never claim the same predecessor: a fork is impossible, not merely detectable
    constraint audit_chain_prev_hash_key unique (prev_hash),
    constraint audit_chain_chain_seq_check check (chain_seq >= 1)
);

create function audit_append_only() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only: % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_logs_guard
    before update or delete on audit_logs
    for each row execute function audit_append_only();
create trigger audit_logs_no_truncate
    before truncate on audit_logs
    for each statement execute function audit_append_only();
create trigger audit_chain_guard
    before update or delete on audit_chain
    for each row execute function audit_append_only();
create trigger audit_chain_no_truncate
    before truncate on audit_chain
    for each statement execute function audit_append_only();

-- Every seal round records the chain head it reached, so cutting rows off the end of the chain
-- is detected too. Retention will record here the head it dropped rows from.
create table audit_chain_heads (
    id          bigint generated always as identity primary key,
    chain_seq   bigint not null,
    head_hash   bytea not null,
    kind        text not null default 'seal',
    created_at  timestamptz not null,
    constraint audit_chain_heads_kind_check check (kind in ('seal', 'retention'))
);

create trigger audit_chain_heads_guard
    before update or delete on audit_chain_heads
    for each row execute function audit_append_only();
create trigger audit_chain_heads_no_truncate
    before truncate on audit_chain_heads
    for each statement execute function audit_append_only();
