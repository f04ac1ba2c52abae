// The floor of a command that reads the database: the runtime, the driver (postgres.js, with
// pgship's options), one connection with its SCRAM login and one query of the versions applied.
import { writeSync } from "node:fs";
import postgres from "postgres";

const sql = postgres(process.env.DATABASE_URL!, { max: 1, prepare: false, fetch_types: false, idle_timeout: 0, onnotice: () => {} });
sql
  .unsafe(`select coalesce(json_agg(version order by version), '[]') as v from ${process.env.FLOOR_TABLE ?? "pgship.migrations"}`)
  .then(([r]) => {
    writeSync(1, `${(r!.v as string[]).length} applied\n`);
    process.exit(0);
  }, (e) => {
    writeSync(2, `${e}\n`);
    process.exit(1);
  });
