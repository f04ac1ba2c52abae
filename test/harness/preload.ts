// Loaded before every test file (bunfig.toml). Every temporary file of the run
// (the tests' own, the clusters', the binary's) goes under one directory, which
// is removed with the throwaway clusters once all tests have run: a run leaves
// nothing in /tmp. PGSHIP_KEEP_TMP=1 keeps it for a post-mortem.
import { afterAll } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAllClusters } from "./cluster.ts";

const root = mkdtempSync(join(tmpdir(), "test-run-"));
// Traversable: a cluster started as root runs as the postgres user, in a directory under here.
chmodSync(root, 0o711);
process.env.TMPDIR = root;

afterAll(() => {
  stopAllClusters();
  if (process.env.PGSHIP_KEEP_TMP) console.error(`temporary files kept in ${root}`);
  else rmSync(root, { recursive: true, force: true });
});
