// Who this binary is: name, display name, tracking schema and version, from the
// `pgship` section of package.json (an app's fork or packed binary changes them).

import pkg from "../package.json" with { type: "json" };

export const brand = {
  version: pkg.version,
  binary: pkg.pgship.binaryName,
  display: pkg.pgship.displayName,
  trackingSchema: pkg.pgship.trackingSchema,
};
