-- Partial-code search at ten million codes (issue 4, decision 0012).
--  * The trigram index covers the code without its dashes: pg_trgm splits words at "-", so a
--    fragment such as "D-WV" gave only near-universal trigrams ("d", "wv" at word edges) and
--    rechecked millions of rows. Without dashes it is the selective trigram "dwv".
--  * The batch is copied beside each indexed code (a code never changes batch), with a
--    (batch_id, code) index, so a search within a batch neither joins every match to promo_codes
--    nor scans other batches' codes.
alter table promo_code_search add column batch_id uuid;
update promo_code_search s set batch_id = c.batch_id from promo_codes c where c.id = s.code_id;
alter table promo_code_search alter column batch_id set not null;
drop index promo_code_search_code_trgm_idx;
create index promo_code_search_plain_trgm_idx on promo_code_search using gin ((replace(code, '-', '')) gin_trgm_ops);
create index promo_code_search_batch_code_idx on promo_code_search (batch_id, code);
