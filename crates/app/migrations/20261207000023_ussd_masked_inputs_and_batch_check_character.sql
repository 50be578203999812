-- Issue 17, items 3 and 12.

-- A batch records whether its codes carry a check character when they are made (settings
-- business.codeGeneration.includeChecksum at creation); typo detection applies only to codes of
-- such batches. Batches made before this migration: false. The partial index answers "does any
-- batch carry check characters" for a code that does not exist.
alter table batches add column check_character boolean not null default false;
create index batches_check_character_idx on batches (id) where check_character;

-- Typed codes are stored masked in the USSD transcripts (ussd::transcript::mask, repeated here):
-- each `*`-separated part that is not a menu choice (nothing, one digit, `00`) becomes the code
-- mask `ABCD-…-JK25` when it reads as a code, else `…`. The session recognises a repeated hop by
-- the digest of its real text instead.
alter table ussd_sessions add column last_text_sha256 bytea;

create function pg_temp.mask_ussd_text(t text) returns text language sql immutable as $$
  select case when t is null then null else coalesce(string_agg(
    case
      when btrim(rtrim(btrim(part), '#')) ~ '^([0-9]|00)?$' then part
      when part ~ '^([A-Z0-9]{4}-…-[A-Z0-9]{4}|…)$' then part
      when upper(regexp_replace(btrim(rtrim(btrim(part), '#')), '[-[:space:]]', '', 'g')) ~ '^[A-Z0-9]{16}$' then
        substr(upper(regexp_replace(btrim(rtrim(btrim(part), '#')), '[-[:space:]]', '', 'g')), 1, 4) || '-…-' ||
        substr(upper(regexp_replace(btrim(rtrim(btrim(part), '#')), '[-[:space:]]', '', 'g')), 13, 4)
      else '…'
    end, '*' order by n), '') end
  from unnest(string_to_array(t, '*')) with ordinality as p(part, n)
$$;

update ussd_interactions set input = pg_temp.mask_ussd_text(input)
where input is distinct from pg_temp.mask_ussd_text(input);
update ussd_sessions set last_text = pg_temp.mask_ussd_text(last_text)
where last_text is distinct from pg_temp.mask_ussd_text(last_text);
update ussd_sessions set final_input = pg_temp.mask_ussd_text(final_input)
where final_input is distinct from pg_temp.mask_ussd_text(final_input);

drop function pg_temp.mask_ussd_text(text);
