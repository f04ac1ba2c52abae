// The floor of a command that reads the database: the runtime, the driver (postgres.js, with
// pgship's options), one connection with its SCRAM login and one query of the versions applied.
import postgres from "postgres";

const sql = postgres(process.env.DATABASE_URL!, { max: 1, prepare: false, fetch_types: false, idle_timeout: 0, onnotice: () => {} });
sql
  .unsafe(`select coalesce(json_agg(version order by version), '[]') as v from ${process.env.FLOOR_TABLE ?? "pgship.migrations"}`)
  .then(([r]) => {
    process.stdout.write(`${(r!.v as string[]).length} applied\n`);
    return sql.end({ timeout: 0 });
  })
  .then(() => process.exit(0), (e) => {
    process.stderr.write(`${e}\n`);
    process.exit(1);
  });
