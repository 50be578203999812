-- Monitoring (issue #23 item 6, decision 0055): the latest reading of each health check, written
-- by the `monitor.check` job once a minute, and each web process's recent response times, which
-- the job merges into the response-time p95.
create table monitor_checks (
    check_name text primary key
        constraint monitor_checks_name_check
        check (check_name in ('database', 'momo', 'africas_talking', 'disk', 'memory', 'response_time')),
    status text not null
        constraint monitor_checks_status_check check (status in ('ok', 'breached', 'failed', 'off')),
    value double precision,
    limit_value double precision,
    detail text not null default '',
    checked_at timestamptz not null
);

-- One row per running web process (its instance id), replaced every 30 s with the counts of its
-- latency buckets since the previous report (see monitor::latency); deleted when it stops.
create table monitor_web_latency (
    instance text primary key,
    buckets bigint[] not null,
    requests bigint not null,
    measured_at timestamptz not null
);
