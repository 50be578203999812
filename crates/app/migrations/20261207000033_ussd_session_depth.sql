-- The inputs a USSD session has taken since it (re)started: settings `ussd.maxMenuDepth` ends a
-- session that takes more. A session ended by a timeout or its depth starts over (depth 0,
-- started_at moved to that hop).
alter table ussd_sessions add column depth integer not null default 0;
