// Runs migration SQL as written. One round trip for a whole transactional
// section, unless it holds `COPY ... FROM stdin` data blocks (as pg_dump and
// psql scripts do): those go over the copy protocol, the statements around them
// in batches.

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Section } from "../core/migration-file.ts";
import { splitStatements } from "../core/sql-split.ts";
import { withTransaction, type Sql } from "./connect.ts";

type Track = <T>(q: Promise<T> & { cancel(): unknown }) => Promise<T>;
const untracked: Track = (q) => q;

/** Sends one COPY ... FROM stdin statement and its data. */
export async function copyIn(sql: Sql, statement: string, data: string): Promise<void> {
  const writable = await sql.unsafe(statement).writable();
  await pipeline(Readable.from([Buffer.from(data)]), writable);
}

/** Whether SQL text may hold `COPY ... FROM stdin` data (then it cannot go as one query). */
export const hasCopyData = (text: string): boolean => /\bfrom\s+stdin\b/i.test(text);

/** Runs SQL text on one connection (inside the caller's transaction, if any). */
export async function execSql(sql: Sql, text: string, track: Track = untracked): Promise<void> {
  if (!hasCopyData(text)) {
    await track(sql.unsafe(text));
    return;
  }
  let batch: string[] = [];
  const flush = async () => {
    // A statement may end in a line comment: the separator goes on a line of its own.
    if (batch.length) await track(sql.unsafe(batch.join("\n;\n")));
    batch = [];
  };
  for (const st of splitStatements(text)) {
    if (st.copyData === undefined) batch.push(st.text);
    else {
      await flush();
      await copyIn(sql, st.text, st.copyData);
    }
  }
  await flush();
}

/** A section as a migration runs it, without tracking: in one transaction, or statement by statement. */
export async function runSection(sql: Sql, section: Section): Promise<void> {
  if (section.options.transaction) {
    await withTransaction(sql, (tx) => execSql(tx, section.sql));
    return;
  }
  for (const st of splitStatements(section.sql)) {
    if (st.copyData === undefined) await sql.unsafe(st.text);
    else await copyIn(sql, st.text, st.copyData);
  }
}
