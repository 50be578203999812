-- Batch statistics without counting a million rows (decision 0011). Every statement that inserts,
-- updates or deletes codes adds one delta row per (batch, status) it touched: statement-level
-- triggers over transition tables, so a 100,000-code generation round costs one small aggregate,
-- and concurrent redemptions in one batch each append a row instead of waiting on a shared counter.
-- The batch status refresh job folds each batch's deltas into one row per status now and then.
create table batch_code_counts (
    batch_id uuid not null references batches (id) on delete cascade,
    status   text not null,
    codes    bigint not null,
    amount   bigint not null
);
create index batch_code_counts_batch_id_idx on batch_code_counts (batch_id);

create function batch_code_counts_insert() returns trigger language plpgsql as $$
begin
    insert into batch_code_counts (batch_id, status, codes, amount)
    select batch_id, status, count(*), sum(amount) from new_rows group by batch_id, status;
    return null;
end $$;

create function batch_code_counts_update() returns trigger language plpgsql as $$
begin
    insert into batch_code_counts (batch_id, status, codes, amount)
    select batch_id, status, sum(codes), sum(amount) from (
        select batch_id, status, -count(*) as codes, -sum(amount) as amount from old_rows group by batch_id, status
        union all
        select batch_id, status, count(*), sum(amount) from new_rows group by batch_id, status) d
    group by batch_id, status
    having sum(codes) <> 0 or sum(amount) <> 0;
    return null;
end $$;

create function batch_code_counts_delete() returns trigger language plpgsql as $$
begin
    insert into batch_code_counts (batch_id, status, codes, amount)
    select o.batch_id, o.status, -count(*), -sum(o.amount) from old_rows o
    where exists (select 1 from batches b where b.id = o.batch_id)
    group by o.batch_id, o.status;
    return null;
end $$;

create trigger promo_codes_counts_insert after insert on promo_codes
    referencing new table as new_rows for each statement execute function batch_code_counts_insert();
create trigger promo_codes_counts_update after update on promo_codes
    referencing old table as old_rows new table as new_rows for each statement execute function batch_code_counts_update();
create trigger promo_codes_counts_delete after delete on promo_codes
    referencing old table as old_rows for each statement execute function batch_code_counts_delete();

insert into batch_code_counts (batch_id, status, codes, amount)
select batch_id, status, count(*), sum(amount) from promo_codes group by batch_id, status;
