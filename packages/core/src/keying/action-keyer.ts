import { type Stats, lstatSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { EXECROOT, SANDBOX_HOME } from "../base/action-env";
import type { OutputFile } from "../base/action-result";
import { HbError } from "../base/errors";
import { type ActionSpec, type ExecPath, type NpmInstallAction, OUT_DIR } from "../base/graph";
import type { SandboxMode } from "../base/action-env";
import { type Forbidden, sourceRefusal } from "../workspace/source-policy";
import { type ActionKeyMaterial, type KeyedFile, actionKey } from "./action-key";
import { hostFingerprint } from "./host-fingerprint";
import { type StampInfo, keyMaterial } from "./key-material";
import type { StatCache } from "./stat-cache";
import { type ResolvedToolchain, toolchainKey } from "./toolchains";

/** One file an action reads, as keying found it: where its bytes are, by content digest. */
export interface ActionInput {
  path: ExecPath;
  /** absolute host path of a source; "" for a generated file (its bytes are a CAS blob) */
  source: string;
  hash: string;
  executable: boolean;
  isSource: boolean;
  /** a symlink inside a tree input (node_modules/.bin/x): made, not copied */
  symlink?: string;
}

/** An action with its key: everything that can change its result, and where each input is. */
export interface KeyedAction {
  key: string;
  material: ActionKeyMaterial;
  mode: SandboxMode;
  /** what is staged: sources (by workspace path) and generated files (by digest) */
  files: ActionInput[];
  /** workspace directories (pinned toolchains) bound read-only into the execroot whole */
  dirBinds: { path: ExecPath; source: string }[];
  /** stats of source inputs before the run, to notice edits made while it runs */
  sourceStats: Map<string, Stats>;
}

export interface KeyerOptions {
  root: string;
  stats: StatCache;
  sourceDateEpoch: number;
  stamp?: StampInfo;
  /** what an npm_install's tree depends on besides its lockfile (registry, platform, importer, pins) */
  npmInstallKey?: (a: NpmInstallAction) => string[];
  toolchains: ReadonlyMap<string, ResolvedToolchain>;
  forbidden: Forbidden;
  /** hb.config.ts's `execProperties` (and --exec-property): platform properties of every run action */
  execProperties?: Readonly<Record<string, string>>;
  /** the digests of generated files this build knows: a file, or the files of an output directory */
  generated(path: ExecPath): OutputFile | readonly OutputFile[] | undefined;
}

/**
 * The action key's one home: each input by content digest (generated ones as this build made
 * them, so an upstream re-run that made the same bytes keeps everything downstream cached),
 * tools, toolchains, the env, the platform and, outside strict mode, the host fingerprint.
 */
export class ActionKeyer {
  private hostPrint: string | undefined;
  /** real paths of the source directories seen so far */
  private readonly realDirs = new Map<string, string>();

  constructor(private readonly opts: KeyerOptions) {}

  /** `a`'s key in `mode`, from the files as they are now; `sandboxDir` is where it would run unsandboxed. */
  key(a: ActionSpec, mode: SandboxMode, sandboxDir: string): KeyedAction {
    const files: ActionInput[] = [];
    const sourceStats = new Map<string, Stats>();
    const inputs = a.inputs.flatMap((p) => this.keyedFile(p, a, files, sourceStats));
    const tools = a.tools.flatMap((p) => this.keyedFile(p, a, files, sourceStats));
    const toolchains: KeyedFile[] = [];
    const dirBinds: KeyedAction["dirBinds"] = [];
    for (const ref of a.toolchains) {
      const t = this.opts.toolchains.get(toolchainKey(ref))!;
      if (t.error) throw t.error;
      toolchains.push(t.keyed);
      // a workspace-relative toolchain is part of the workspace: a file is staged like a tool, a
      // directory bound into the execroot whole
      if (!ref.path.startsWith("/")) {
        if (t.isDirectory) dirBinds.push({ path: ref.path, source: t.hostPath });
        else files.push({ path: ref.path, source: t.hostPath, hash: t.keyed.hash, isSource: true, executable: t.keyed.executable });
      }
    }
    const unsandboxed = mode === "none";
    const material = keyMaterial(a, inputs, tools, toolchains, {
      mode,
      sourceDateEpoch: this.opts.sourceDateEpoch,
      stamp: this.opts.stamp,
      execroot: unsandboxed ? join(sandboxDir, "root") : EXECROOT,
      home: unsandboxed ? join(sandboxDir, "home") : SANDBOX_HOME,
      tmpdir: unsandboxed ? join(sandboxDir, "tmp") : "/tmp",
      hostFingerprint: () => (this.hostPrint ??= hostFingerprint(this.opts.stats)),
      npmInstall: a.kind === "npm_install" ? (this.opts.npmInstallKey?.(a) ?? []) : undefined,
      execProperties: this.opts.execProperties,
    });
    return { key: actionKey(material), material, mode, files, dirBinds, sourceStats };
  }

  private keyedFile(path: ExecPath, action: ActionSpec, files: ActionInput[], stats: Map<string, Stats>): KeyedFile[] {
    if (path.startsWith(OUT_DIR + "/")) {
      const made = this.opts.generated(path);
      if (!made) throw new HbError("INTERNAL", `no digest for generated input ${path} of ${action.owner}`);
      const each = Array.isArray(made) ? (made as readonly OutputFile[]) : [made as OutputFile];
      for (const f of each)
        files.push({ path: f.path, source: "", hash: f.hash, isSource: false, executable: f.executable, symlink: f.symlink });
      return each.map((f) => ({ path: f.path, hash: f.hash, size: f.size, executable: f.executable }));
    }
    const abs = join(this.opts.root, path);
    let r;
    try {
      r = this.opts.stats.digest(abs);
    } catch {
      throw new HbError("MISSING_INPUT", `missing input file '${path}', needed by ${action.owner}`, {
        hint: "restore the file, or remove it from the target's attributes",
      });
    }
    if (!r.stats.isFile()) {
      throw new HbError("MISSING_INPUT", `input '${path}' of ${action.owner} is not a regular file`);
    }
    // the analysis that named it ran a pull request's code, and a symlink may have moved since
    const refused = sourceRefusal(this.realPathOf(abs), this.opts.forbidden);
    if (refused) {
      throw HbError.of("FORBIDDEN_INPUT", `input '${path}' of ${action.owner} cannot be staged: ${refused}`, {
        label: action.owner,
        path,
        reason: refused,
      });
    }
    stats.set(abs, r.stats);
    const executable = (r.stats.mode & 0o111) !== 0;
    files.push({ path, source: abs, hash: r.digest.hash, isSource: true, executable });
    return [{ path, hash: r.digest.hash, size: r.digest.size, executable }];
  }

  /** The real path of a source: its directory's, resolved once per build, and the file's own link. */
  private realPathOf(abs: string): string {
    if (lstatSync(abs).isSymbolicLink()) return realpathSync.native(abs);
    const dir = dirname(abs);
    let realDir = this.realDirs.get(dir);
    if (realDir === undefined) this.realDirs.set(dir, (realDir = realpathSync.native(dir)));
    return join(realDir, basename(abs));
  }
}
