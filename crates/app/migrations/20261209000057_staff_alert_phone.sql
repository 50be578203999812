-- A staff member's own number for alert SMS (issue #22: escalations of critical alerts reach
-- every Super Administrator by SMS). Kept apart from `phone_number`, which is unique and names a
-- customer's account: a person may redeem codes with the number their alerts go to.
alter table users add column alert_phone text;
alter table users add constraint users_alert_phone_check check (alert_phone ~ '^\+2507[0-9]{8}$');
