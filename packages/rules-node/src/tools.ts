import { type File, HbError, type TargetRef, type Toolchain, attr, commandLoggingTo, toolchain, toolchainOf } from "@hb/core";

/** The default labels of the tools rules-node runs; a workspace defines them once, in //tools. */
export const DEFAULT_TOOLS = {
  esbuild: "//tools:esbuild",
  node: "//tools:node",
  typescript: "//tools:typescript",
  vitest: "//tools:node_modules",
} as const;

/**
 * esbuild, pinned: the native binary the workspace's node_modules holds for this platform
 * (a workspace file, staged like a tool), or one at `path`.
 */
export function esbuild_toolchain(args: { name?: string; path?: string; sha256: string; tags?: string[] }): void {
  toolchain({
    name: args.name ?? "esbuild",
    path: args.path ?? "node_modules/@esbuild/linux-x64/bin/esbuild",
    sha256: args.sha256,
    tags: args.tags,
  });
}

/** The toolchain a label attribute names, or an error saying what it must be. */
export function requireToolchain(ref: TargetRef | undefined, attribute: string, label: string): Toolchain {
  const t = ref ? toolchainOf(ref) : undefined;
  if (!t) {
    throw new HbError(
      "BAD_ATTRIBUTE",
      `attribute '${attribute}' of ${label} must name a toolchain (toolchain or local_toolchain target), not ${ref?.label ?? "nothing"}`,
      {
        hint: `define it in tools/BUILD.ts, e.g. local_toolchain({ name: "${attribute}", path: "..." })`,
      },
    );
  }
  return t;
}

/** A check or test whose srcs are empty: it would pass over nothing. */
export function noInputs(label: string, what: string): HbError {
  return new HbError("BAD_ATTRIBUTE", `${label} has no ${what}: its srcs are empty, and it would pass without checking anything`, {
    hint: "list them in srcs (an empty glob? globs stop at subpackages: name their files by label)",
  });
}

/** Where a toolchain sits in the execroot: an absolute host path, or its workspace path. */
export function toolchainPath(t: Toolchain): string {
  return t.path.startsWith("/") ? t.path : `./${t.path}`;
}

/**
 * A package the rule runs (typescript, vitest) from an npm_deps tree, as the project's lockfile
 * pins it, or from a directory toolchain: `dir` is where the package sits in the execroot;
 * `inputs` or `toolchains` bring it there. `inToolchain` says where it is in a toolchain's directory.
 */
export function npmPackageDir(
  ref: TargetRef | undefined,
  pkg: string,
  inToolchain: (toolchainDir: string) => string,
  attribute: string,
  label: string,
): { dir: string; inputs: readonly File[]; toolchains: Toolchain[] } {
  const tree = (ref?.providers.npmDeps as { nodeModules?: string } | undefined)?.nodeModules;
  if (ref && typeof tree === "string") return { dir: `${tree}/${pkg}`, inputs: ref.files, toolchains: [] };
  const t = requireToolchain(ref, attribute, label);
  return { dir: inToolchain(toolchainPath(t)), inputs: [], toolchains: [t] };
}

/** JS module a target provides to bundles that depend on it: import `name`, get `entry`. */
export interface JsModule {
  name: string;
  entry: string;
}

export function jsModuleOf(ref: TargetRef): JsModule | undefined {
  const m = ref.providers.jsModule as JsModule | undefined;
  return m && typeof m.name === "string" && typeof m.entry === "string" ? m : undefined;
}

/**
 * Every test target's time limit, in seconds: `timeout` (default Bazel's "moderate", 300 s, the
 * limit of a medium test). A test still running then is killed with its process group and
 * reported as timed out, so a server that never came up cannot hold a build for good.
 */
export const testTimeout = () => attr.int({ default: 300, doc: "seconds the test may run before it is killed and reported TIMEOUT" });

/** Shell-quotes one argument for a bash -c command line. */
export function sh(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * A test command for bash: its output goes to the log (the test action's output); on failure it
 * is printed too, so hb shows it with the failure, and the action fails with the command's code.
 * A failure shows `command` itself, and nothing but bash runs besides it (strict mode needs no cat).
 */
export function testCommand(command: string, log: string): string {
  return commandLoggingTo(command, log);
}
