// Pure: which actions the wizard offers for a database in a given state, the
// recommended one first.

import type { DatabaseState, StatusReport } from "../core/plan.ts";

export type Action = "install" | "adopt" | "update" | "backup" | "schedule" | "restore" | "health" | "quit";

export interface MenuOption {
  value: Action;
  label: string;
  hint?: string;
}

export function buildMenu(report: StatusReport, backups: number, foreign: DatabaseState["foreign"] = null): MenuOption[] {
  const pending = report.entries.filter((e) => e.status === "pending" || e.status === "running");
  const problems = report.counts.changed + report.counts.unknown;
  const options: MenuOption[] = [];
  const fresh = !report.managed || report.version === null;
  if (fresh && report.empty) {
    options.push({ value: "install", label: "Install", hint: `fresh install, ${report.head ?? "no migrations"}` });
  } else if (!fresh && pending.length > 0 && problems === 0) {
    const names = pending.slice(0, 4).map((e) => e.name).join(", ");
    options.push({ value: "update", label: `Update (${pending.length} pending)`, hint: `${names}${pending.length > 4 ? ", ..." : ""}` });
  }
  if (!fresh || !report.empty) options.push({ value: "backup", label: "Back up now" });
  options.push({ value: "restore", label: "Restore from a backup", hint: backups ? `${backups} found` : undefined });
  options.push({ value: "health", label: "Health check", hint: "doctor and verify, with repairs" });
  if (!fresh) options.push({ value: "schedule", label: "Automatic backups", hint: "daily, test-restored first" });
  if (problems > 0 || (!fresh && pending.length === 0) || (fresh && !report.empty)) {
    // Nothing to install or update: the health check is what to do first.
    const health = options.splice(options.findIndex((o) => o.value === "health"), 1)[0]!;
    options.unshift({ ...health, hint: problems ? "recommended: the database and this binary disagree" : health.hint });
  }
  if (foreign && report.version === null) {
    // Installed by another tool: adopting it is the way in (checked against that version's schema first).
    options.unshift({ value: "adopt", label: `Adopt the ${foreign.tool} install (at ${foreign.version})`, hint: "recommended: checks the schema, records the history, then applies what is pending" });
  }
  options.push({ value: "quit", label: "Quit" });
  return options;
}
