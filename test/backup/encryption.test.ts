// age encryption: round trips with a recipient and with a passphrase, and
// interoperability with the standard `age` command-line tool (Debian package
// `age`) in both directions.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { createDb, pgship, tempDir, type TestDb, describeWithPgDump } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { ageKeyPair, APP_DATA, databaseNames, fingerprint, manifestOf, secretFile, seed } from "../harness/backup.ts";

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});
async function seeded(users = 40): Promise<TestDb> {
  const d = await createDb("enc");
  dbs.push(d);
  await seed(d, users);
  return d;
}
const json = (t: string) => JSON.parse(t);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** `age -d` with a passphrase: age reads passphrases only from a terminal, so `script` gives it one. */
function ageDecryptWithPassphrase(file: string, passphrase: string, out: string) {
  return spawnSync("script", ["-qec", `age -d -o '${out}' '${file}'`, "/dev/null"], { input: `${passphrase}\n`, encoding: "utf8", timeout: 30_000 });
}

describeWithPgDump("encrypted backups", () => {
  test.skipIf(missing("age"))("to an age recipient: the backup server needs no secret; `age -d -i` decrypts it; restore round trip", async () => {
    const d = await seeded();
    const env = { DATABASE_URL: d.url };
    const { identityFile, recipient } = await ageKeyPair();
    const other = await ageKeyPair();
    const dir = tempDir();
    const before = await fingerprint(d.url, APP_DATA);
    const b = await pgship(["backup", "--dir", dir, "--encrypt-to", recipient, "--encrypt-to", other.recipient, "--json"], { env });
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    expect(out.file).toEndWith(".dump.age");
    expect(out.encryption).toEqual({ tool: "age", mode: "recipients", recipients: [recipient, other.recipient] });
    const m = manifestOf(out.file);
    expect(m.archive.sha256).not.toBe(m.archive.plainSha256);

    // The standard age CLI decrypts it to exactly the pg_dump archive the manifest describes.
    const plain = join(dir, "plain.dump");
    const age = spawnSync("age", ["-d", "-i", identityFile, "-o", plain, out.file], { encoding: "utf8" });
    expect(age.stderr).toBe("");
    expect(age.status).toBe(0);
    const bytes = readFileSync(plain);
    expect(sha(bytes)).toBe(m.archive.plainSha256);
    expect(bytes.subarray(0, 5).toString()).toBe("PGDMP");

    await d.sql`delete from api_keys`;
    const r = await pgship(["restore", out.file, "--identity", other.identityFile, "--yes", "--drop-old"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);
  });

  test.skipIf(missing("age") || missing("script"))("with a passphrase file: restore round trip, and `age -d` with the passphrase decrypts it", async () => {
    const d = await seeded();
    const env = { DATABASE_URL: d.url };
    const passphrase = "correct horse battery staple 42";
    const pf = secretFile(`${passphrase}\n`);
    const dir = tempDir();
    const before = await fingerprint(d.url, APP_DATA);
    const b = await pgship(["backup", "--dir", dir, "--passphrase-file", pf, "--json"], { env });
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    expect(out.encryption).toEqual({ tool: "age", mode: "passphrase", scryptWorkFactor: 15 });
    expect(b.stdout + b.stderr).not.toContain(passphrase);

    const plain = join(dir, "plain.dump");
    const age = ageDecryptWithPassphrase(out.file, passphrase, plain);
    expect(age.status).toBe(0);
    expect(sha(readFileSync(plain))).toBe(manifestOf(out.file).archive.plainSha256);

    await d.sql`update users set display_name = 'x'`;
    const r = await pgship(["restore", out.file, "--passphrase-file", pf, "--yes", "--drop-old"], { env });
    expect(r.code).toBe(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);
  }, 60_000);

  test.skipIf(missing("age"))("the other direction: a pg_dump archive encrypted by `age -r` is restored with --identity (--no-manifest)", async () => {
    const d = await seeded(20);
    const env = { DATABASE_URL: d.url };
    const { identityFile, recipient } = await ageKeyPair();
    const dir = tempDir();
    const before = await fingerprint(d.url, APP_DATA);
    const plainBackup = json((await pgship(["backup", "--dir", dir, "--json"], { env })).stdout).file as string;
    const byCli = join(tempDir(), "by-age-cli.dump.age");
    expect(spawnSync("age", ["-r", recipient, "-o", byCli, plainBackup]).status).toBe(0);
    await d.sql`delete from instances`;

    const refused = await pgship(["restore", byCli, "--identity", identityFile, "--yes"], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("has no manifest");
    const r = await pgship(["restore", byCli, "--identity", identityFile, "--no-manifest", "--yes", "--drop-old"], { env });
    expect(r.code).toBe(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);
  });

  test("wrong keys are refused before anything is touched, with what to pass instead", async () => {
    const d = await seeded(10);
    const env = { DATABASE_URL: d.url };
    const { recipient } = await ageKeyPair();
    const stranger = await ageKeyPair();
    const dir = tempDir();
    const byKey = json((await pgship(["backup", "--dir", dir, "--encrypt-to", recipient, "--json"], { env })).stdout).file as string;
    const byPass = json((await pgship(["backup", "--dir", dir, "--passphrase-file", secretFile("right passphrase"), "--json"], { env })).stdout).file as string;
    const live = await fingerprint(d.url);
    const names = await databaseNames();

    const noKey = await pgship(["restore", byKey, "--yes"], { env });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain(`is encrypted to ${recipient}`);
    expect(noKey.stderr).toContain("--identity");

    const wrongKey = await pgship(["restore", byKey, "--identity", stranger.identityFile, "--yes"], { env });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain("none of the given keys can decrypt it");
    expect(wrongKey.stderr).toContain(recipient);
    expect(wrongKey.stderr).not.toContain("AGE-SECRET-KEY");

    const wrongPass = await pgship(["restore", byPass, "--passphrase-file", secretFile("not it at all"), "--yes"], { env });
    expect(wrongPass.code).toBe(1);
    expect(wrongPass.stderr).toContain("cannot decrypt");
    expect(wrongPass.stderr).toContain("passphrase is wrong");

    const keyForPass = await pgship(["restore", byPass, "--identity", stranger.identityFile, "--yes"], { env });
    expect(keyForPass.code).toBe(2);
    expect(keyForPass.stderr).toContain("--passphrase-file");

    expect(await fingerprint(d.url)).toEqual(live);
    expect(await databaseNames()).toEqual(names);
  });

  test("bad key arguments are usage errors, and a secret key is never taken as a recipient", async () => {
    const d = await seeded(5);
    const env = { DATABASE_URL: d.url };
    const dir = join(tempDir(), "none");
    const notRecipient = await pgship(["backup", "--dir", dir, "--encrypt-to", "age1notakey"], { env });
    expect(notRecipient.code).toBe(2);
    expect(notRecipient.stderr).toContain('"age1notakey" is not an age recipient');
    const { identityFile, recipient } = await ageKeyPair();
    const secret = readFileSync(identityFile, "utf8").match(/AGE-SECRET-KEY-\S+/)![0];
    const leaked = await pgship(["backup", "--dir", dir, "--encrypt-to", secret], { env });
    expect(leaked.code).toBe(2);
    expect(leaked.stderr).toContain("secret key was given where a recipient");
    expect(leaked.stderr).not.toContain(secret);
    const both = await pgship(["backup", "--dir", dir, "--encrypt-to", recipient, "--passphrase-file", secretFile("p")], { env });
    expect(both.code).toBe(2);
    const recipientsFile = join(tempDir(), "recipients.txt");
    writeFileSync(recipientsFile, `# backup keys\n${recipient}\n\n`);
    const fromFile = await pgship(["backup", "--dir", dir, "--recipients-file", recipientsFile, "--json"], { env });
    expect(fromFile.code).toBe(0);
    expect(json(fromFile.stdout).encryption.recipients).toEqual([recipient]);
    const badIdentity = await pgship(["restore", json(fromFile.stdout).file, "--identity", recipientsFile, "--yes"], { env });
    expect(badIdentity.code).toBe(2);
    expect(badIdentity.stderr).toContain("not an age identity file");
  });
});
