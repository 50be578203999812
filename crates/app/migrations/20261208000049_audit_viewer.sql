-- The audit log viewer (issue #23 item 1, decision 0052): indexes for its filters and its
-- full-text search, and the record of chain verifications run from the panel.

-- The searchable text of a row's details: the string and number values of before, after and
-- metadata, and the entity id. One immutable function, so the index and the query share it.
create function audit_search_doc(entity_id text, before jsonb, after jsonb, metadata jsonb) returns tsvector
language sql immutable parallel safe as $$
    select to_tsvector('simple'::regconfig, coalesce(entity_id, ''))
        || jsonb_to_tsvector('simple'::regconfig, coalesce(before, '{}'::jsonb), '["string", "numeric"]')
        || jsonb_to_tsvector('simple'::regconfig, coalesce(after, '{}'::jsonb), '["string", "numeric"]')
        || jsonb_to_tsvector('simple'::regconfig, metadata, '["string", "numeric"]')
$$;

create index audit_logs_search_idx on audit_logs
    using gin (audit_search_doc(entity_id, before, after, metadata));
-- newest first with no other filter, and the keyset position (created_at, seq)
create index audit_logs_created_seq_idx on audit_logs (created_at desc, seq desc);
create index audit_logs_ip_idx on audit_logs (ip, created_at desc) where ip is not null;
create index audit_logs_request_idx on audit_logs (request_id) where request_id is not null;
create index audit_logs_actor_type_idx on audit_logs (actor_type, created_at desc) where actor_type <> 'user';

-- "Verify now" from the panel: one row per verification that finished, newest last.
create table audit_verifications (
    id              bigint generated always as identity primary key,
    job_id          bigint,
    requested_by    uuid,
    started_at      timestamptz not null,
    finished_at     timestamptz not null,
    checked         bigint not null,
    heads_checked   bigint not null,
    unsealed        bigint not null,
    intact          boolean not null,
    break_seq       bigint,
    break_id        uuid,
    reason          text
);
create index audit_verifications_finished_idx on audit_verifications (finished_at desc);
