import type { SourceLocation } from "./errors";

// The action graph is plain data: the sandboxed analyzer process produces it, the analysis
// cache stores it as JSON, and the executor, query, explain and verify read it.

/**
 * An artifact's path in the execroot, relative to it. Source files sit at their workspace path
 * (`lib/src/a.ts`), generated files under `hb-out/<package>/` (`hb-out/lib/version.js`), the
 * same relative path they are materialized at in the workspace.
 */
export type ExecPath = string;

export const OUT_DIR = "hb-out";

/** What every kind of action has. */
interface ActionCommon {
  /** index in `ActionGraph.actions` */
  id: number;
  /** label of the target that declared it */
  owner: string;
  /** what kind of work, for progress and reports: `Genrule`, `Write`, `Esbuild` */
  mnemonic: string;
  /** sorted exec paths; generated ones are outputs of other actions */
  inputs: ExecPath[];
  /** sorted exec paths of tools: staged like inputs, their directories lead PATH */
  tools: ExecPath[];
  /** pinned programs: declared toolchains, and the absolute executable itself (genrule's shell) */
  toolchains: ToolchainRef[];
  /** sorted declared output files */
  outputs: ExecPath[];
  /** sorted declared output directories (tree artifacts) */
  outputDirs: ExecPath[];
  /** with `--stamp`, this action gets the commit time and commit id */
  stamp: boolean;
  /** tags from the owning target that change execution (`no-sandbox`, `no-cache`, ...) */
  tags: string[];
  /** one line for progress output */
  progress: string;
}

/** A command in the sandbox. */
export interface RunAction extends ActionCommon {
  kind: "run";
  /** argv[0] is a tool's exec path or an absolute system path */
  argv: string[];
  /** declared env; the determinism env is added at execution */
  env: Record<string, string>;
  /**
   * a time limit in seconds (tests have one): past it the command is killed with its process
   * group and fails as timed out. Not in the key: it cannot change the bits of a result that
   * passed, only whether there is one.
   */
  timeout?: number;
  /**
   * the owning target's `exec_properties`: REAPI platform properties (a remote worker's container
   * image, its pool), over hb.config.ts's `execProperties`; absent when it has none
   */
  execProperties?: Record<string, string>;
}

/** A file with given content. */
export interface WriteAction extends ActionCommon {
  kind: "write";
  content: string;
  executable: boolean;
}

/** An external file, by URL and pin: fetched by the fetch step, the one place with network. */
export interface FetchAction extends ActionCommon {
  kind: "fetch";
  url: string;
  /** the SRI integrity it is pinned to */
  integrity: string;
  executable: boolean;
}

/** A node_modules tree from a lockfile's fetched tarballs (its one input; its one output directory). */
export interface NpmInstallAction extends ActionCommon {
  kind: "npm_install";
  /**
   * whose node_modules it lays out: the owning package's directory relative to the lockfile's
   * ("" for the lockfile's own; `packages/x` for a workspace package below it)
   */
  importer: string;
}

export type ActionSpec = RunAction | WriteAction | FetchAction | NpmInstallAction;

/**
 * A program pinned by digest: an absolute host path (visible read-only in the sandbox; in strict
 * mode it and the shared libraries it loads are all that is visible) or a workspace-relative file
 * (staged like a tool). Its digest is checked before every use and enters the action key.
 */
export interface ToolchainRef {
  /** the toolchain target, or "" for an implicit one (an action's absolute executable) */
  label: string;
  path: string;
  /** the pinned sha256; "" for an implicit toolchain, pinned by the digest it has at build time */
  sha256: string;
}

export interface TargetInfo {
  label: string;
  kind: string;
  location: SourceLocation;
  /** labels this target refers to through its label attributes: targets and source files */
  deps: string[];
  /** default outputs (what `hb build` of this target produces) */
  files: ExecPath[];
  /** for runnable targets */
  executable?: ExecPath;
  /** files an executable or test needs at run time besides `files` */
  runfiles?: ExecPath[];
  tags: string[];
  /** true for test rules (`hb test`) */
  test?: boolean;
  /** JSON-able providers a rule returned beyond DefaultInfo */
  providers?: Record<string, unknown>;
}

export interface ActionGraph {
  /** sorted by label */
  targets: TargetInfo[];
  actions: ActionSpec[];
  /** labels the requested patterns expanded to, in request order */
  requested: string[];
}
