// Who this binary is: name, display name, tracking schema and version, from the
// `pgship` section of package.json (an app's fork or packed binary changes them).

import pkg from "../package.json" with { type: "json" };
import { parseAdoptSection } from "./core/adopt-map.ts";

export const brand = {
  version: pkg.version,
  binary: pkg.pgship.binaryName,
  display: pkg.pgship.displayName,
  trackingSchema: pkg.pgship.trackingSchema,
  /** owner/repo whose GitHub releases hold this binary (install.sh, and the workflow `init` writes, download from it). */
  releaseRepository: pkg.pgship.releaseRepository,
  /** Alembic revision id → version, for `baseline --from alembic` (checked by the build). */
  alembicMap: parseAdoptSection((pkg.pgship as { adopt?: unknown }).adopt).alembic,
};
