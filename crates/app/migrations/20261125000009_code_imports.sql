-- CSV imports of codes into a batch: one row per import (who, which file, how it went) and the
-- lines it rejected, so the error report can be downloaded later.
create table code_imports (
    id          uuid primary key,
    batch_id    uuid not null references batches (id) on delete restrict,
    user_id     uuid references users (id) on delete restrict,
    file_name   text not null,
    mode        text not null,
    status      text not null,
    total_rows  integer not null,
    accepted    integer not null,
    rejected    integer not null,
    serial_from integer,
    serial_to   integer,
    created_at  timestamptz not null,
    constraint code_imports_mode_check check (mode in ('all_or_nothing', 'valid_rows')),
    constraint code_imports_status_check check (status in ('imported', 'partial', 'rejected')),
    constraint code_imports_counts_check check (accepted >= 0 and rejected >= 0 and accepted + rejected <= total_rows)
);
create index code_imports_batch_id_idx on code_imports (batch_id, created_at desc);

-- One rejected line of an import: its line number in the file, the value as written, and why.
create table code_import_errors (
    import_id uuid not null references code_imports (id) on delete cascade,
    line      integer not null,
    value     text not null,
    reason    text not null,
    constraint code_import_errors_pkey primary key (import_id, line)
);
