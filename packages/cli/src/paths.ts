import { fileURLToPath } from "node:url";

/** The analyzer entry point, bundled next to this file (dist/analyzer.mjs). */
export const ANALYZER_SCRIPT = fileURLToPath(new URL("./analyzer.mjs", import.meta.url));
