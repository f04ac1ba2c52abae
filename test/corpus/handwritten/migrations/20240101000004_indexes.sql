-- migrate:up transaction:false
-- Built without locking writers: each statement on its own, outside a transaction.
create index concurrently if not exists events_account_at on app.events (account_id, at);
create unique index concurrently accounts_name_key on app.accounts ("Display Name; with semicolon");
drop index concurrently if exists app.accounts_name_key;
COPY app.countries (code, name, note) FROM stdin;
it	Italy	added outside a transaction
\.

-- migrate:down transaction:false
drop index concurrently if exists app.events_account_at;
