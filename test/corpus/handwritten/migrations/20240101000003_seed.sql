-- migrate:up
-- Seed rows as pg_dump writes them: COPY ... FROM stdin with its data inline.
create table app.countries (code char(2) primary key, name text not null, note text);

COPY app.countries (code, name, note) FROM stdin;
de	Germany	\N
fr	France	it's; "quoted" $$ not a body
ci	Côte d'Ivoire	tab\tand\\backslash
\.

insert into app.countries values ('jp', 'Japan', 'after the data block');

do $$
begin
  -- a DO block whose body says COMMIT and VACUUM as words only
  if (select count(*) from app.countries) <> 4 then
    raise exception 'expected 4 countries, COMMIT; VACUUM;';
  end if;
end
$$;

savepoint before_optional;
create table app.optional (x int);
rollback to savepoint before_optional;
release savepoint before_optional;

-- migrate:down
drop table app.countries;
