-- Foreign-key checks were the redemption hop's largest single cost (decision 0017: dropping them
-- all took `bench ussd` from about 930 to 1,130 redemptions a second). These four only repeat
-- what other keys and rules already guarantee:
--  * redemptions.batch_id and redemptions.user_id are copied, in the statement that inserts the
--    redemption, from the code (kept by redemptions_promo_code_id_fkey; a batch with codes cannot
--    be deleted, trigger batches_keep_codes) and from the locked customer (kept by
--    redemptions_customer_id_fkey, whose row carries its user);
--  * ussd_sessions.customer_id is written with the customer the same hop found or registered;
--  * audit_logs.actor_user_id records who acted, as history: users with history are deactivated,
--    never deleted (identity::users::delete_or_deactivate), and a log row must not depend on the
--    table it describes.
alter table redemptions drop constraint redemptions_batch_id_fkey, drop constraint redemptions_user_id_fkey;
alter table ussd_sessions drop constraint ussd_sessions_customer_id_fkey;
alter table audit_logs drop constraint audit_logs_actor_user_id_fkey;

-- batch_code_counts' own foreign key stood in for the code→batch key (migration 17), but it also
-- ran for the two delta rows every status change writes: a redemption paid two lookups for a
-- batch that codes already in it cannot lose. The statement that adds codes now checks their
-- batches itself, once per statement, with the key-share lock a foreign key takes (a batch being
-- deleted is waited for, then refused); status changes check nothing, since a code's batch_id
-- never changes (refused below). A batch is deleted with its count rows, as the cascade did.
alter table batch_code_counts drop constraint batch_code_counts_batch_id_fkey;

create or replace function batch_code_counts_insert() returns trigger language plpgsql as $$
declare
    missing uuid;
begin
    select n.batch_id into missing
    from (select distinct batch_id from new_rows) n
    where not exists (select 1 from (select b.id from batches b where b.id = n.batch_id for key share) k)
    limit 1;
    if found then
        raise exception 'batch % does not exist', missing
            using errcode = 'foreign_key_violation', table = 'promo_codes', constraint = 'promo_codes_batch_id_fkey';
    end if;
    insert into batch_code_counts (batch_id, status, codes, amount)
    select batch_id, status, count(*), sum(amount) from new_rows group by batch_id, status;
    return null;
end $$;

create function promo_codes_keep_batch() returns trigger language plpgsql as $$
begin
    if new.batch_id is distinct from old.batch_id then
        raise exception 'a code cannot move to another batch'
            using errcode = 'foreign_key_violation', table = 'promo_codes', constraint = 'promo_codes_batch_id_fkey';
    end if;
    return new;
end $$;

-- fires only for an UPDATE that names batch_id, which nothing in the application does
create trigger promo_codes_keep_batch before update of batch_id on promo_codes
    for each row execute function promo_codes_keep_batch();

create or replace function batches_keep_codes() returns trigger language plpgsql as $$
begin
    if exists (select 1 from promo_codes where batch_id = old.id) then
        raise exception 'batch % still has codes', old.id
            using errcode = 'foreign_key_violation', table = 'promo_codes', constraint = 'promo_codes_batch_id_fkey';
    end if;
    delete from batch_code_counts where batch_id = old.id;
    return old;
end $$;
