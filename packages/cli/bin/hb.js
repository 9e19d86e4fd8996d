#!/usr/bin/env node
// npm links this file at install time; the bundle it loads is made by `npm run build`,
// which `npm ci` runs through the root `prepare` script.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/hb.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("hb: the CLI is not built yet; run `npm run build` in the hb repository\n");
  process.exit(2);
}
await import(bundle.href);
