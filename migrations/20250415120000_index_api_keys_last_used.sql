-- migrate:up transaction:false
-- The "stale keys" page lists keys by last use. Built concurrently so writes
-- to api_keys are not blocked on large installs; IF NOT EXISTS keeps it safe to
-- re-run after an interruption.
create index concurrently if not exists api_keys_last_used_at_idx
  on api_keys (last_used_at nulls first);

-- migrate:down transaction:false
drop index concurrently if exists api_keys_last_used_at_idx;
