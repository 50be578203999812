-- The inputs a USSD session has taken since it (re)started: settings `ussd.maxMenuDepth` ends a
-- session that takes more. A session ended by a timeout or its depth starts over (depth 0,
-- started_at moved to that hop).
alter table ussd_sessions add column depth integer not null default 0;

-- `ussd.africasTalkingEnvironment` is no setting any more (decision 0035): the base URL and the
-- username say sandbox or live. A stored value would only sit in exports.
delete from system_settings where category = 'ussd' and key = 'africasTalkingEnvironment';
