-- migrate:up
alter table api_keys
  add column webhook_url text
    constraint api_keys_webhook_url_check check (webhook_url ~ '^https?://'),
  add column webhook_headers jsonb not null default '{}'::jsonb
    constraint api_keys_webhook_headers_check check (jsonb_typeof(webhook_headers) = 'object');

-- migrate:down
alter table api_keys drop column webhook_headers, drop column webhook_url;
