-- Two small counts the dashboard (and the status line) make on every refresh read a handful of
-- rows through these partial indexes instead of every queued payout and every user: payouts held
-- back (by why), and staff accounts waiting for approval. Both sets stay tiny whatever the
-- campaign's size (`mbelyco bench dashboard`: ~80 ms each at 1,000,000 payouts and 400,000
-- customers before, issue #21).
create index disbursements_held_idx on disbursements (held_reason) include (amount)
    where status = 'queued' and held_reason is not null;
create index users_staff_pending_idx on users (id) where kind = 'staff' and approval_status = 'pending';
