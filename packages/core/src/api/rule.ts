import { HbError, type SourceLocation, didYouMean } from "../base/errors";
import { parseLabel } from "../base/label";
import type { ExecPath, ToolchainRef } from "../base/graph";
import { type AttrSchema, type AttrValues, type RuleArgs, checkAttrValue, emptyValue, isOutputKind } from "./attrs";
import type { File, Providers } from "./file";

export interface RunOptions {
  /**
   * a tool File (staged, pinned by digest), a Toolchain, or an absolute system path such as
   * `/bin/bash` (an implicit toolchain: pinned by the digest it has at build time)
   */
  executable: File | ToolchainRef | string;
  arguments?: readonly string[];
  inputs?: readonly File[];
  /** tools besides `executable`: staged, their directories lead PATH */
  tools?: readonly File[];
  /** pinned programs the command runs (toolchain targets); their directories lead PATH */
  toolchains?: readonly ToolchainRef[];
  outputs: readonly File[];
  env?: Readonly<Record<string, string>>;
  mnemonic?: string;
  progressMessage?: string;
  /** with `hb build --stamp`, give this action the commit time and id */
  stamp?: boolean;
  /** seconds it may run: past it the command and its process group are killed, and it fails as timed out */
  timeout?: number;
}

export interface WriteOptions {
  output: File;
  content: string;
  executable?: boolean;
}

export interface FetchOptions {
  output: File;
  url: string;
  /** the content's sha256 (hex), or an SRI string (`sha512-...`) */
  sha256?: string;
  integrity?: string;
  executable?: boolean;
}

export interface NpmInstallOptions {
  /** a package-lock.json (lockfileVersion 2 or 3), pnpm-lock.yaml or yarn.lock (yarn 2+), in this package or above it */
  lockfile: File;
  /**
   * a directory (ctx.declareDirectory) that becomes the node_modules of this package: the
   * lockfile's entries for this package's directory (its own node_modules/..., a workspace
   * package's packages/x/node_modules/..., pnpm's importer), laid out as the package manager would
   */
  output: File;
}

export interface Actions {
  run(opts: RunOptions): void;
  write(opts: WriteOptions): void;
  /** an external file, pinned by digest; fetched before the build (the one step with network) */
  fetch(opts: FetchOptions): void;
  /** a node_modules tree from a lockfile, every package fetched and checked against its integrity */
  npmInstall(opts: NpmInstallOptions): void;
}

/** How node reads a `.js` file: as an ES module, or as CommonJS (its default). */
export type PackageType = "module" | "commonjs";

export interface RuleContext<A extends AttrSchema = AttrSchema> {
  /** `//pkg:name` */
  readonly label: string;
  readonly pkg: string;
  readonly name: string;
  readonly tags: readonly string[];
  readonly attr: AttrValues<A>;
  /**
   * How node reads the package's `.js` files: the `type` of the package.json nearest it, up to the
   * workspace root (all BUILD.ts evaluation is told of it)
   */
  readonly packageType: PackageType;
  /** `hb-out/<pkg>`: where this package's outputs go in the execroot */
  readonly ruleDir: ExecPath;
  /** every file the targets of a label attribute provide, in attribute order */
  files(attrName: keyof A & string): File[];
  /** a file this target's actions will write, relative to the package */
  declareFile(name: string): File;
  /** a directory (tree artifact) this target's actions will write */
  declareDirectory(name: string): File;
  readonly actions: Actions;
}

export interface RuleDefinition<A extends AttrSchema = AttrSchema> {
  readonly kind: string;
  readonly attrs: A;
  readonly impl: (ctx: RuleContext<A>) => Providers | void;
  /** a test rule: `hb test` runs its executable */
  readonly test: boolean;
  /** its targets are runnable with `hb run` */
  readonly executable: boolean;
}

export type RuleFunction<A extends AttrSchema> = ((args: RuleArgs<A>) => void) & {
  readonly definition: RuleDefinition<A>;
};

const RESERVED = new Set(["name", "tags", "exec_properties"]);

/**
 * Defines a rule, after Bazel's Starlark `rule()`: a schema of attributes and an implementation
 * that declares files and actions through `ctx` and returns what the target provides.
 */
export function rule<A extends AttrSchema>(def: {
  kind?: string;
  attrs: A;
  impl: (ctx: RuleContext<A>) => Providers | void;
  test?: boolean;
  executable?: boolean;
}): RuleFunction<A> {
  for (const key of Object.keys(def.attrs)) {
    if (RESERVED.has(key)) throw new HbError("BAD_ATTRIBUTE", `rule attribute '${key}' is reserved for every rule`);
  }
  const definition: RuleDefinition<A> = {
    kind: def.kind ?? "rule",
    attrs: def.attrs,
    impl: def.impl,
    test: def.test ?? false,
    executable: def.executable ?? def.test ?? false,
  };
  const fn = (args: RuleArgs<A>) => declareTarget(definition as unknown as RuleDefinition<AttrSchema>, args);
  return Object.assign(fn, { definition });
}

function declareTarget(def: RuleDefinition<AttrSchema>, args: unknown): void {
  const pkg = loadingPackage(`${def.kind}()`);
  const location = pkg.callSite();
  const fail = (
    code: "BAD_ATTRIBUTE" | "DUPLICATE_TARGET" | "OUTPUT_CONFLICT" | "OUTPUT_OUTSIDE_PACKAGE",
    message: string,
    hint?: string,
  ) => new HbError(code, message, { location, hint });

  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw fail("BAD_ATTRIBUTE", `${def.kind}() takes one object of attributes, e.g. ${def.kind}({ name: "x", ... })`);
  }
  const raw = args as Record<string, unknown>;
  const name = raw.name;
  if (typeof name !== "string" || name === "") throw fail("BAD_ATTRIBUTE", `${def.kind}() needs a 'name' string`);
  try {
    parseLabel(`:${name}`, pkg.pkg);
  } catch (e) {
    throw fail("BAD_ATTRIBUTE", `invalid target name '${name}': ${(e as Error).message}`);
  }
  const label = `//${pkg.pkg}:${name}`;
  const previous = pkg.targets.get(name);
  if (previous) {
    const at = `${previous.location.file}:${previous.location.line ?? "?"}`;
    throw fail("DUPLICATE_TARGET", `target '${name}' is declared twice in //${pkg.pkg} (first at ${at})`, "give each target its own name");
  }
  const clashingOutput = pkg.outputs.get(name);
  if (clashingOutput !== undefined) {
    throw fail("OUTPUT_CONFLICT", `target name '${name}' clashes with an output of //${pkg.pkg}:${clashingOutput}`);
  }

  let tags: string[] = [];
  if (raw.tags !== undefined) {
    const bad = checkAttrValue("string_list", raw.tags);
    if (bad) throw fail("BAD_ATTRIBUTE", `attribute 'tags' of ${label} must be ${bad}`);
    tags = [...(raw.tags as string[])];
  }
  let execProperties: Record<string, string> = {};
  if (raw.exec_properties !== undefined) {
    const bad = checkAttrValue("string_dict", raw.exec_properties);
    if (bad) throw fail("BAD_ATTRIBUTE", `attribute 'exec_properties' of ${label} must be ${bad}`);
    execProperties = { ...(raw.exec_properties as Record<string, string>) };
  }

  const attrs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (RESERVED.has(key) || value === undefined) continue;
    const spec = def.attrs[key];
    if (!spec) {
      const guess = didYouMean(key, Object.keys(def.attrs));
      throw fail(
        "BAD_ATTRIBUTE",
        `${def.kind} ${label} has no attribute '${key}'`,
        guess ? `did you mean '${guess}'?` : `its attributes: name, tags, exec_properties, ${Object.keys(def.attrs).join(", ")}`,
      );
    }
    const bad = checkAttrValue(spec.kind, value);
    if (bad) throw fail("BAD_ATTRIBUTE", `attribute '${key}' of ${label} must be ${bad}`);
    attrs[key] = Array.isArray(value) ? [...value] : typeof value === "object" ? { ...(value as object) } : value;
  }
  for (const [key, spec] of Object.entries(def.attrs)) {
    if (key in attrs) continue;
    if (spec.mandatory) throw fail("BAD_ATTRIBUTE", `${def.kind} ${label} is missing its mandatory attribute '${key}'`);
    attrs[key] = spec.default !== undefined ? structuredClone(spec.default) : emptyValue(spec.kind);
  }

  // Predeclared outputs are known at loading, so other targets can name them by label.
  const declared: string[] = [];
  for (const [key, spec] of Object.entries(def.attrs)) {
    if (!isOutputKind(spec.kind) || attrs[key] === undefined) continue;
    const names = spec.kind === "output" ? [attrs[key] as string] : (attrs[key] as string[]);
    for (const out of names) {
      checkOutputName(out, pkg.pkg, label, location);
      const owner = pkg.outputs.get(out);
      if (owner !== undefined || declared.includes(out)) {
        throw fail(
          "OUTPUT_CONFLICT",
          `output '${out}' of ${label} is also declared by //${pkg.pkg}:${owner ?? name}`,
          "each file has one producer",
        );
      }
      if (pkg.targets.has(out)) throw fail("OUTPUT_CONFLICT", `output '${out}' of ${label} clashes with the target //${pkg.pkg}:${out}`);
      // as in Bazel: a label names the output before the file, so the source could never be used
      if (pkg.isSource(out)) {
        throw fail(
          "OUTPUT_CONFLICT",
          `generated file '${out}' of ${label} conflicts with the source file ${pkg.pkg ? `${pkg.pkg}/` : ""}${out}`,
          "rename the output or the source file",
        );
      }
      declared.push(out);
    }
  }
  for (const out of declared) pkg.outputs.set(out, name);
  pkg.targets.set(name, { name, rule: def, attrs, tags, execProperties, location });
}

/** An output name must be a clean relative path inside the package. */
export function checkOutputName(out: string, pkg: string, label: string, location?: SourceLocation): void {
  if (out === "" || out.startsWith("/") || out.split("/").some((s) => s === ".." || s === "." || s === "")) {
    throw new HbError("OUTPUT_OUTSIDE_PACKAGE", `output '${out}' of ${label} must be a relative path inside //${pkg}`, {
      location,
      hint: "outputs go to hb-out/<package>/; write a path like 'gen/out.txt', without '..' or a leading '/'",
    });
  }
}

/** A target as its BUILD.ts declared it: a rule and attribute values, before analysis. */
export interface TargetDecl {
  readonly name: string;
  readonly rule: RuleDefinition<AttrSchema>;
  /** validated attribute values, defaults applied, labels not yet resolved */
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
  /** REAPI platform properties of its actions (`exec_properties`) */
  readonly execProperties: Readonly<Record<string, string>>;
  readonly location: SourceLocation;
}

/** The package whose BUILD.ts is being evaluated; BUILD.ts functions register into it. */
export interface PackageBeingLoaded {
  readonly pkg: string;
  /** workspace-relative path of its BUILD.ts */
  readonly buildFile: string;
  readonly targets: Map<string, TargetDecl>;
  /** predeclared output (package-relative path) -> name of the target that declares it */
  readonly outputs: Map<string, string>;
  glob(include: readonly string[], exclude: readonly string[]): string[];
  /** the subpackages (workspace-relative) whose files `include` patterns would match, were they this package's */
  subpackagesReached(include: readonly string[]): string[];
  /** whether the package has a source file (or directory) at this package-relative path */
  isSource(path: string): boolean;
  /** where in the user's source the current BUILD.ts call was made */
  callSite(): SourceLocation;
}

let current: PackageBeingLoaded | undefined;

export function setLoadingPackage(p: PackageBeingLoaded | undefined): void {
  current = p;
}

export function loadingPackage(what: string): PackageBeingLoaded {
  if (!current) {
    throw new HbError("BUILD_FILE_ERROR", `${what} may only be called while a BUILD.ts is evaluated`, {
      hint: "call it at the top level of BUILD.ts (or from a function BUILD.ts calls), not from a rule implementation",
    });
  }
  return current;
}
