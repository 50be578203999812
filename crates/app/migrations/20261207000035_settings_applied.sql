-- Which settings version each running process has taken in, and when: the status page shows
-- that every process follows a change, and the propagation figure (issue #20) is measured on it.
create table settings_applied (
    process_id  text primary key,
    role        text not null check (role in ('serve', 'worker', 'run', 'cli')),
    hostname    text not null,
    pid         integer not null,
    version     bigint not null,
    applied_at  timestamptz not null default clock_timestamp(),
    seen_at     timestamptz not null default clock_timestamp()
);
