-- USSD sessions keep their menu state and the last answer (issue 5): Africa's Talking resends
-- the whole input history on every hop, so the app answers only the newest input, and a repeated
-- hop (same session, same text) gets the same answer without doing anything again.
alter table ussd_sessions
    add column menu_state    text not null default 'home',
    add column last_text     text,
    add column last_response text,
    add column last_outcome  text,
    add column customer_id   uuid references customers (id) on delete set null;
create index ussd_sessions_last_seen_idx on ussd_sessions (last_seen_at desc);
create index ussd_interactions_created_at_idx on ussd_interactions (created_at desc);
-- fraud rules count wrong codes per phone (ussd_interactions_phone_idx) and outcomes over time

-- A phone that keeps typing codes that do not exist (guessing) is flagged for fraud review.
alter table customers
    add column flagged_at  timestamptz,
    add column flag_reason text;
