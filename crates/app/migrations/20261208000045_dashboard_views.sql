-- The dashboard's custom view, remembered per person on the server (issue #21, decision 0048):
-- the parts they ticked, so `/` opens with them on any browser or device. One row a person,
-- gone with the person; picking another view deletes it.
create table dashboard_views (
    user_id    uuid primary key constraint dashboard_views_user_fk references users (id) on delete cascade,
    sections   text[] not null constraint dashboard_views_sections_check check (cardinality(sections) between 1 and 20),
    updated_at timestamptz not null
);
