// The branded install.sh `init` writes: this repository's install.sh (embedded in
// the binary) with its three branding lines set to the app's name, display name
// and release repository, the same lines the release workflow stamps.

import installSh from "../../install.sh" with { type: "text" };
import { PgshipError } from "../core/errors.ts";

export interface InstallBrand {
  name: string;
  displayName: string;
  releaseRepository: string;
}

/** `text` (an install.sh) with its BINARY_NAME, DISPLAY_NAME and RELEASE_REPOSITORY lines set. */
export function brandInstallScript(b: InstallBrand, text: string = installSh): string {
  let out = text;
  for (const [key, value] of [["BINARY_NAME", b.name], ["DISPLAY_NAME", b.displayName], ["RELEASE_REPOSITORY", b.releaseRepository]] as const) {
    const line = new RegExp(`^${key}=.*$`, "m");
    if (!line.test(out)) throw new PgshipError("bug", `the embedded install.sh has no ${key}= line to brand`);
    // The values are checked to hold no quote, $, ` or \ (src/core/project.ts).
    out = out.replace(line, () => `${key}="${value}"`);
  }
  return out.replace(/^# Installs the pgship binary/m, `# Installs the ${b.name} binary`).replace(/https:\/\/github\.com\/pgship\/pgship\/releases/g, `https://github.com/${b.releaseRepository}/releases`);
}
