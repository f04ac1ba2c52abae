-- migrate:up
-- Sessions now carry a per-user CSRF token; existing users get one on next log-in.
alter table users add column csrf_token text;
alter table users add column csrf_token_rotated_at timestamptz;

-- migrate:down
alter table users drop column csrf_token_rotated_at;
alter table users drop column csrf_token;
