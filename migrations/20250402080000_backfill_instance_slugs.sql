-- migrate:up
-- Instances get a URL-safe slug, unique per user. Existing rows are backfilled
-- from their names; clashes get the row id appended.
alter table instances add column slug text;

update instances i
   set slug = s.slug
  from (
    select id,
           case when count(*) over (partition by user_id, base) > 1 then base || '-' || id else base end as slug
      from (select id, user_id,
                   coalesce(nullif(trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), ''), 'instance') as base
              from instances) named
  ) s
 where s.id = i.id;

alter table instances alter column slug set not null;
alter table instances add constraint instances_user_slug_key unique (user_id, slug);

-- migrate:down
alter table instances drop column slug;
