-- The USSD monitor's live feeds (decision 0020). A poll used to ask for rows "after the newest id
-- I hold", but an id is taken when the row is inserted, not when its transaction commits: a hop
-- that took id 100 and committed after the hop holding id 101 was never shown live. Each row now
-- records the transaction that wrote it (`tx`), and a poll asks for the rows written by
-- transactions that had not finished when the previous poll started: every transaction below
-- that horizon (pg_snapshot_xmin) had finished, so anything it wrote was already there to see.
--
-- The column is added without a default first, so existing rows are not rewritten (they keep a
-- null `tx` and are older than any horizon a page can hold); rows written from now on record
-- their own transaction.
alter table ussd_interactions add column tx xid8;
alter table ussd_interactions alter column tx set default pg_current_xact_id();
create index ussd_interactions_tx_idx on ussd_interactions (tx);

alter table redemptions add column tx xid8;
alter table redemptions alter column tx set default pg_current_xact_id();
create index redemptions_tx_idx on redemptions (tx);
