-- Generation speed (decision 0009). Three changes to promo_codes, none to its columns' meaning:
--  * `code` compares byte-wise (collate "C"): codes are ASCII, and the unique index is checked on
--    every insert; a linguistic collation (a hosted Postgres's en_US, say) costs several times more.
--  * the status-only index goes: nothing asks for "all codes in status X" across every batch
--    without a batch, and (batch_id, status) serves the batch pages and statistics.
--  * the trigram index for partial-code search moves to its own table, filled by the
--    `codes.index_search` job right after each generation or import round commits. A trigram GIN
--    costs ~8-14 s per million codes even when built in bulk, more than the whole generation
--    budget; keeping it off the insert path lets a million codes land (unique, redeemable) in
--    seconds, and become findable by fragment moments later.
alter table promo_codes alter column code type text collate "C";
drop index promo_codes_status_idx;
drop index promo_codes_code_trgm_idx;

create table promo_code_search (
    code_id uuid primary key references promo_codes (id) on delete cascade,
    code    text collate "C" not null
);
create index promo_code_search_code_trgm_idx on promo_code_search using gin (code gin_trgm_ops);
insert into promo_code_search (code_id, code) select id, code from promo_codes;
