-- migrate:up
/* The first migration of a hand-written history.
   /* Nested block comments are legal in PostgreSQL; a semicolon here; does not end anything. */
   Neither does COMMIT; or VACUUM; in a comment. */
create schema app;

create type app.mood as enum ('sad', 'ok', 'happy');

create table app.accounts (
  id bigint generated always as identity primary key,
  "Display Name; with semicolon" text not null default E'it\'s \\ fine; really',
  greeting text not null default U&'\0048ello',
  mood app.mood not null default 'ok',
  settings jsonb not null default '{"theme": "dark; or light"}',
  created_at timestamptz not null default now()
);

comment on table app.accounts is 'Accounts; one per person. Says "BEGIN" and $$ without meaning it.';

-- migrate:down
drop schema app cascade;
