// Who this binary is: name, display name, tracking schema and version, from the
// `pgship` section of package.json (an app's fork changes them), or from the
// payload `pack` attached to the binary (src/payload.ts), which wins.

import pkg from "../package.json" with { type: "json" };
import { parseAdoptSection } from "./core/adopt-map.ts";
import { ownPayload } from "./payload.ts";

const packed = ownPayload()?.brand;

export const brand = packed
  ? { version: packed.version, binary: packed.name, display: packed.display, trackingSchema: packed.trackingSchema, alembicMap: packed.alembic }
  : {
      version: pkg.version,
      binary: pkg.pgship.binaryName,
      display: pkg.pgship.displayName,
      trackingSchema: pkg.pgship.trackingSchema,
      /** Alembic revision id → version, for `baseline --from alembic` (checked by the build). */
      alembicMap: parseAdoptSection((pkg.pgship as { adopt?: unknown }).adopt).alembic,
    };
