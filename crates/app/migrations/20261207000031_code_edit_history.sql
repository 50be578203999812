-- A code nobody has used may have its amount or expiry changed (issue 19, decision 0031). The
-- change goes into the code's history beside its status moves: an edit row keeps the status
-- (from = to) and says what changed, before and after:
--   {"amount": {"before": 1000, "after": 1500}, "expiresAt": {"before": "…", "after": "…"}}
-- A status move leaves it null.
alter table promo_code_events add column change jsonb;
alter table promo_code_events add constraint promo_code_events_change_check
    check (change is null or (jsonb_typeof(change) = 'object' and from_status = to_status));
