-- migrate:up
create function set_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create table users (
  id            bigint generated always as identity primary key,
  email         text not null,
  display_name  text not null default '',
  password_hash text not null,
  is_admin      boolean not null default false,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

-- Log-in looks users up by e-mail, whatever its case.
create unique index users_email_lower_key on users (lower(email));

create trigger users_set_updated_at before update on users
  for each row execute function set_updated_at();

-- migrate:down
drop table users;
drop function set_updated_at();
