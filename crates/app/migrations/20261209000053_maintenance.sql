-- Maintenance (issue #23 item 5, decision 0054): one row per weekly window whose tasks ran
-- (the `maintenance.run` job), with each task's outcome and duration, and the bilingual USSD
-- screen dials get while the system is in maintenance (`templates::catalogue`, event
-- `maintenance`; a test holds the seed and the catalogue together).
create table maintenance_runs (
    id           bigint generated always as identity primary key,
    -- the window's opening: one run per window
    window_start timestamptz not null constraint maintenance_runs_window_key unique,
    status       text not null
        constraint maintenance_runs_status_check check (status in ('running', 'succeeded', 'failed')),
    -- [{task, outcome: succeeded|failed|skipped, durationMs, detail}]
    tasks        jsonb not null default '[]'::jsonb,
    started_at   timestamptz not null,
    finished_at  timestamptz
);
create index maintenance_runs_started_idx on maintenance_runs (started_at desc);

insert into notification_templates (key, channel, locale, subject, body, created_at, updated_at) values
    ('maintenance', 'ussd', 'en', null, 'MBELYCO Promo is under maintenance. Please dial again later. Thank you!', now(), now()),
    ('maintenance', 'ussd', 'rw', null, 'MBELYCO Promo iri kuvugururwa. Mwongere muhamagare nyuma. Murakoze!', now(), now())
on conflict on constraint notification_templates_key_channel_locale_key do nothing;
