// Who this binary is: name, display name, tracking schema and version, from the
// `pgship` section of package.json (an app's fork changes them), or from the
// payload `pack` attached to the binary (src/payload.ts), which wins.

import pkg from "../package.json" with { type: "json" };
import { parseAdoptSection } from "./core/adopt-map.ts";
import { ownPayload } from "./payload.ts";

const packed = ownPayload()?.brand;

/** owner/repo whose GitHub releases hold pgship itself (install.sh, and the workflow `init` writes, download from it). */
const releaseRepository = pkg.pgship.releaseRepository;

export const brand = packed
  ? { version: packed.version, binary: packed.name, display: packed.display, trackingSchema: packed.trackingSchema, releaseRepository, alembicMap: packed.alembic }
  : {
      version: pkg.version,
      binary: pkg.pgship.binaryName,
      display: pkg.pgship.displayName,
      trackingSchema: pkg.pgship.trackingSchema,
      releaseRepository,
      /** Alembic revision id → version, for `baseline --from alembic` (checked by the build). */
      alembicMap: parseAdoptSection((pkg.pgship as { adopt?: unknown }).adopt).alembic,
    };

/** The name of one of this binary's own environment variables: PGSHIP_PING_URL, or MYAPP_DB_PING_URL for a branded `myapp-db`. */
export const envName = (suffix: string): string => `${brand.binary.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}_${suffix}`;
