import { fileURLToPath } from "node:url";

/**
 * The analyzer entry point, dist/analyzer.mjs. This module is bundled into dist/hb.mjs's
 * directory or, as code a command loads on demand, into dist/chunks/ (scripts/build.mjs).
 */
const here = new URL(".", import.meta.url);
export const ANALYZER_SCRIPT = fileURLToPath(new URL(here.pathname.endsWith("/chunks/") ? "../analyzer.mjs" : "./analyzer.mjs", here));
