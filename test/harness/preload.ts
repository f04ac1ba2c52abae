// Loaded before every test file (bunfig.toml): stops the throwaway clusters once
// all tests have run.
import { afterAll } from "bun:test";
import { stopAllClusters } from "./cluster.ts";

afterAll(() => stopAllClusters());
