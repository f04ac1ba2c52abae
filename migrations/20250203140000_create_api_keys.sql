-- migrate:up
create table api_keys (
  id           bigint generated always as identity primary key,
  user_id      bigint not null references users (id) on delete cascade,
  instance_id  bigint not null references instances (id) on delete cascade,
  label        text not null default 'default',
  -- Only a hash of the key is stored; the key itself is shown once.
  key_prefix   text not null,
  key_hash     bytea not null,
  last_used_at timestamptz,
  created_at   timestamptz not null default now()
);

create unique index api_keys_key_prefix_key on api_keys (key_prefix);
create index api_keys_user_id_idx on api_keys (user_id);

-- migrate:down
drop table api_keys;
