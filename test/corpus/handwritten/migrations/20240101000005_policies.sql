-- migrate:up
alter table app.events enable row level security;
create policy events_own on app.events
  using (account_id = nullif(current_setting('app.account_id', true), '')::bigint);

create view app.recent_events as
  select e.id, e.kind, a."Display Name; with semicolon" as who
    from app.events e join app.accounts a on a.id = e.account_id
   where e.at > now() - interval '7 days';

create function app.events_stamp() returns trigger language plpgsql as $$
begin
  new.at := coalesce(new.at, now());
  return new;
end
$$;
create trigger events_stamp before insert on app.events for each row execute function app.events_stamp();

alter type app.mood add value 'ecstatic';

-- migrate:down
drop trigger events_stamp on app.events;
drop function app.events_stamp();
drop view app.recent_events;
drop policy events_own on app.events;
