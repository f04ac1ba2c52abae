-- migrate:up
create type instance_status as enum ('active', 'paused', 'disconnected');

create table instances (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references users (id) on delete cascade,
  name       text not null check (length(name) between 1 and 100),
  base_url   text not null,
  status     instance_status not null default 'active',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index instances_user_id_idx on instances (user_id);

create trigger instances_set_updated_at before update on instances
  for each row execute function set_updated_at();

-- migrate:down
drop table instances;
drop type instance_status;
