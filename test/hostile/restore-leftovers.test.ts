// Databases left behind by killed runs: a swap restore killed with SIGKILL while
// pg_restore fills `<db>_restoring_<time>`, and scratch databases of a killed
// verify. They are found (restore warns, doctor reports them with the command),
// dropped by `restore --drop-old`, and nothing else is touched: not another
// database's leftovers, not one somebody is connected to.

import { describe, expect } from "bun:test";
import postgres from "postgres";
import { cluster, pgship, spawnPgship, tempDir, until, useDatabases, testWithPgDump } from "../harness/env.ts";
import { childrenNamed, databaseNames, seed } from "../harness/backup.ts";

const newDb = useDatabases("left");
const json = (text: string) => JSON.parse(text);

async function admin() {
  const c = await cluster();
  return postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
}

describe("leftovers of killed runs", () => {
  testWithPgDump("a swap restore killed mid-way leaves <db>_restoring_*: doctor reports it, a rerun warns, --drop-old --yes drops it", async () => {
    const d = await newDb();
    await seed(d, 20);
    await d.sql.unsafe(`create table bulk (id int primary key, body text);
      insert into bulk select g, md5(g::text) || md5((g * 7)::text) from generate_series(1, 200000) g`);
    const env = { DATABASE_URL: d.url };
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);

    const child = spawnPgship(["restore", b.file, "--yes"], { env });
    const exited = new Promise<number | null>((r) => child.on("close", (code, signal) => r(signal === "SIGKILL" ? 137 : code)));
    const work = new RegExp(`^${d.name}_restoring_\\d{8}t\\d{6}z$`);
    // Caught in the act: the work database exists and pg_restore is filling it.
    const sql = await admin();
    try {
      const name = await until(async () => {
        if (!childrenNamed(child.pid!, "pg_restore").length) return null;
        const rows = await sql<{ d: string }[]>`select d.datname as d from pg_database d join pg_stat_activity a on a.datid = d.oid where d.datname like ${`${d.name}_restoring_%`}`;
        return rows[0]?.d;
      }, 30_000, "pg_restore filling the work database");
      expect(name).toMatch(work);
      child.kill("SIGKILL");
      expect(await exited).toBe(137);
      // The orphaned pg_restore reads the end of its input and goes; then nobody is connected.
      await until(async () => (await sql`select 1 from pg_stat_activity where datname = ${name}`).length === 0, 30_000, "the orphaned pg_restore to finish");
      expect(await databaseNames()).toContain(name);
      const c0 = await cluster();
      // While a restore of this database runs (its session on the live database), its work database is never a leftover.
      const running = postgres(c0.url(d.name), { max: 1, onnotice: () => {}, connection: { application_name: "pgship restore" } });
      await running`select 1`;
      const during = json((await pgship(["doctor", "--json"], { env })).stdout).checks.find((x: { name: string }) => x.name === "leftovers");
      await running.end();
      expect(during.detail).not.toContain(name);

      // A database of the same shape for another database is not this one's leftover.
      const other = `${d.name}x_restoring_20250101t000000z`;
      await sql.unsafe(`create database "${other}"`);
      // A scratch database of a killed verify of this database, one of another database, and one in use.
      const scratchMine = "pgship_scratch_0123456789ab";
      const scratchOther = "pgship_scratch_ba9876543210";
      const scratchBusy = "pgship_scratch_00000000beef";
      for (const s of [scratchMine, scratchOther, scratchBusy]) await sql.unsafe(`create database "${s}"`);
      await sql.unsafe(`comment on database "${scratchMine}" is 'pgship: scratch database for ${d.name} since 2026-01-01T00:00:00.000Z; safe to drop when nobody is connected to it'`);
      await sql.unsafe(`comment on database "${scratchOther}" is 'pgship: scratch database for someone_else since 2026-01-01T00:00:00.000Z; safe to drop when nobody is connected to it'`);
      const c = await cluster();
      const busy = postgres(c.url(scratchBusy), { max: 1, onnotice: () => {} });
      await busy`select 1`;
      try {
        const doc = await pgship(["doctor", "--json"], { env });
        const check = json(doc.stdout).checks.find((x: { name: string }) => x.name === "leftovers");
        expect(check).toMatchObject({ status: "warn", fix: "pgship restore --drop-old --yes" });
        expect(check.detail).toContain(name);
        expect(check.detail).toContain(scratchMine);
        for (const n of [other, scratchOther, scratchBusy]) expect(check.detail).not.toContain(n);
        const text = await pgship(["doctor"], { env });
        expect(text.stdout).toContain("fix: pgship restore --drop-old --yes");

        // A rerun warns about it (the dry run changes nothing).
        const again = await pgship(["restore", b.file, "--dry-run"], { env });
        expect(again.code).toBe(0);
        expect(again.stderr).toContain(`"${name}" (an interrupted restore)`);
        expect(again.stderr).toContain("restore --drop-old");

        const asked = await pgship(["restore", "--drop-old"], { env });
        expect(asked.code).toBe(2);
        expect(await databaseNames()).toContain(name);
        const drop = await pgship(["restore", "--drop-old", "--yes", "--json"], { env });
        expect(drop.code).toBe(0);
        expect(json(drop.stdout)).toMatchObject({ ok: true, dropped: [name, scratchMine], leftovers: [name, scratchMine] });
        const names = await databaseNames();
        expect(names).not.toContain(name);
        expect(names).not.toContain(scratchMine);
        for (const n of [other, scratchOther, scratchBusy, d.name]) expect(names).toContain(n);
        const clean = await pgship(["doctor", "--json"], { env });
        expect(json(clean.stdout).checks.find((x: { name: string }) => x.name === "leftovers").status).toBe("ok");
      } finally {
        await busy.end();
        for (const n of [other, scratchOther, scratchBusy]) await sql.unsafe(`drop database if exists "${n}"`);
      }
    } finally {
      await sql.end();
      // Leave the shared test cluster small (its data directory is removed when the tests end).
      await d.sql`drop table if exists bulk`;
    }
  }, 120_000);
});
