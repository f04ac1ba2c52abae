-- migrate:up
create table app.events (
  id bigint generated always as identity primary key,
  account_id bigint not null references app.accounts (id),
  kind text not null,
  at timestamptz not null default now()
);

create materialized view app.event_counts as
  select account_id, count(*) as n from app.events group by account_id;
create unique index event_counts_account on app.event_counts (account_id);

-- A body that mentions CONCURRENTLY, BEGIN and COMMIT: none of it runs at CREATE time.
create function app.refresh_counts() returns void language plpgsql as $fn$
begin
  -- refresh without blocking readers; CREATE INDEX CONCURRENTLY would not be allowed here
  refresh materialized view concurrently app.event_counts;
  raise notice 'done: %', $q$ COMMIT; BEGIN; $q$;
end
$fn$;

create function app.touch(a bigint) returns text language plpgsql as $body$
declare
  msg text := E'tab\there; quote \' and backslash \\';
begin
  execute format($sql$update app.accounts set mood = %L where id = %s$sql$, 'happy', a);
  return msg;
end;
$body$;

-- SQL-standard body (PostgreSQL 14+): BEGIN ATOMIC ... END holds semicolons.
create function app.event_total(a bigint) returns bigint language sql
begin atomic
  select count(*) from app.events where account_id = a;
end;

-- migrate:down
drop function app.event_total(bigint);
drop function app.touch(bigint);
drop function app.refresh_counts();
drop materialized view app.event_counts;
drop table app.events;
