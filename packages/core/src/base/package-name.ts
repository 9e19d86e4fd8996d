/**
 * The npm package a project installs: the CLI, the BUILD.ts API with its types, rules-node and
 * the cache server in one (`npm run pack` makes it). The `@hb` scope is not hb's to own, so
 * BUILD.ts files import this name; the `@hb/...` names they imported before stay aliases.
 */
export const HB_PACKAGE = "hbuild";

/** each API module's name under HB_PACKAGE and its earlier name, both ways */
const ALIASES = new Map<string, string>([
  ["@hb/core", HB_PACKAGE],
  ["@hb/rules-node", `${HB_PACKAGE}/rules-node`],
]);
for (const [a, b] of [...ALIASES]) ALIASES.set(b, a);

/** The names one API module answers to in BUILD.ts and hb.config.ts: its own and its alias. */
export function apiModuleNames(id: string): string[] {
  const alias = ALIASES.get(id);
  return alias ? [id, alias] : [id];
}

/** Whether an import in a BUILD.ts names hb's API (served by the evaluator, never bundled). */
export function isApiImport(spec: string): boolean {
  return spec === HB_PACKAGE || spec.startsWith(`${HB_PACKAGE}/`) || spec.startsWith("@hb/");
}
