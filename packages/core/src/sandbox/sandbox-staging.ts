import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join, posix } from "node:path";
import type { ExecPath } from "../base/graph";
import type { ActionInput } from "../keying/action-keyer";
import { HbError } from "../base/errors";
import { type StagedFile, copyStamped, stageTree } from "./stage";
import { spawnProcess } from "../base/process";
import { tmpfsDir } from "./tmpfs";
import type { MergedView } from "./merged-view";

/** One input of an action, as staging needs it: `source` is a workspace file or a CAS blob. */
export type InputToStage = ActionInput;

export interface StagedSandbox {
  sandboxDir: string;
  /** bound read-only at the execroot */
  rootDir: string;
  /** bound writable at EXECROOT/<writableAt> */
  outDir: string;
  /** directories of outDir bound writable at their package paths as well (the merged view): exec path -> host directory */
  outputBinds: { path: ExecPath; source: string }[];
  /** what the merged view added */
  merged: MergedView;
  /**
   * Every file and directory staged under rootDir (directories deepest first), when rootDir is a
   * tree only hb writes (bound read-only): removed by name, without listing or stat-ing it.
   */
  layout?: { files: string[]; dirs: string[] };
}

const PREFIX = "hb-sandbox-";

/**
 * Where the sandboxes of one build are laid out. On a tmpfs when the machine has one: each
 * distinct input is copied once into a per-build input cache (bound read-only; sources 0644 or
 * 0755 and generated files 0444 or 0555 whatever the checkout's umask; dated SOURCE_DATE_EPOCH,
 * so an input's date never leaks into an action) and hardlinked from there into each sandbox; creating and deleting those trees costs a fraction of what it does on disk.
 * Without a tmpfs, sandboxes sit in the output base, with copies of sources and CAS blobs.
 */
export class SandboxStaging {
  readonly root: string;
  readonly onTmpfs: boolean;
  private readonly inputs = new Map<string, string>();
  private readonly cleanups: Promise<void>[] = [];
  private counter = 0;
  private closed = false;
  private readonly freeOutDirs: string[] = [];
  private outDirCount = 0;

  private readonly epoch: number;
  private readonly reverse: boolean;
  private readonly fallback: string;

  constructor(opts: {
    /** where sandboxes go when there is no tmpfs: the output base's sandbox directory */
    fallback: string;
    /** SOURCE_DATE_EPOCH: the date of every cached input */
    epoch: number;
    /** stage inputs in reverse order, so a directory lists its entries in another order (hb verify) */
    reverse: boolean;
  }) {
    this.epoch = opts.epoch;
    this.reverse = opts.reverse;
    this.fallback = opts.fallback;
    const shm = tmpfsDir();
    if (shm) {
      removeStale(shm);
      this.root = mkdtempSync(join(shm, PREFIX));
      writeFileSync(join(this.root, "owner.pid"), String(process.pid));
    } else {
      this.root = opts.fallback;
      mkdirSync(this.root, { recursive: true });
    }
    this.onTmpfs = shm !== undefined;
    this.removeLeftovers();
  }

  /**
   * Where sandbox `name` goes. Without a sandbox the action sees this path, so it must be the
   * same from build to build (it is in the action's key): the output base's, not a fresh tmpfs.
   */
  dirFor(name: string, unsandboxed: boolean): string {
    if (unsandboxed) mkdirSync(this.fallback, { recursive: true });
    return join(unsandboxed ? this.fallback : this.root, name);
  }

  /**
   * With sandboxes on a tmpfs, outputs are still written to the disk the CAS is on (the action
   * writes them once; taking them into the CAS is a rename), into one of a few directories kept
   * for the whole output base and handed from one action to the next: creating directories on a
   * disk while sandboxes start is slow (on ext4 each new one scans past the inodes freed lately),
   * and actions of one build mostly lay out the same `dist/`. Before each run it holds only the
   * directories this run stages (`keep`), empty: whatever else a run left (undeclared files or
   * directories, copied inputs) must not be seen by the next.
   */
  private takeOutDir(keep: ReadonlySet<string>): string {
    for (;;) {
      const dir = this.freeOutDirs.pop() ?? join(this.fallback, "out", String(this.outDirCount++));
      let isDir: boolean;
      try {
        isDir = lstatSync(dir).isDirectory();
      } catch {
        mkdirSync(dir, { recursive: true });
        return dir;
      }
      // a symlink put there is not followed
      if (isDir) {
        try {
          // an action may have made it read-only; the next one writes there
          chmodSync(dir, 0o755);
          clearExcept(dir, keep);
          return dir;
        } catch {
          // what cannot be cleared (a tree too deep to name, a directory without write access)
          // goes aside whole, never to an action
        }
      }
      this.retire(dir);
    }
  }

  /** Moves `dir` out of the pool's way and removes it in the background; never throws. */
  private retire(dir: string): void {
    const trash = join(this.fallback, `trash-${process.pid}-${++this.counter}`);
    try {
      renameSync(dir, trash);
    } catch {
      // gone already, or stuck where it is: the pool does not hand it out again this build
      return;
    }
    this.cleanups.push(removeTree(trash));
  }

  /**
   * What an earlier build left in the output base: trees a killed hb was still removing, and the
   * per-action outputs directories (named by a digest) an older hb kept. The output base's lock
   * keeps any other build out.
   */
  private removeLeftovers(): void {
    const entries = (dir: string) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    };
    for (const n of entries(this.fallback)) if (/(^|\.)trash-\d/.test(n)) this.cleanups.push(removeTree(join(this.fallback, n)));
    for (const n of entries(join(this.fallback, "out")))
      if (!/^\d+$/.test(n)) this.cleanups.push(removeTree(join(this.fallback, "out", n)));
  }

  /** A read-only copy of `input` in the tmpfs input cache, made on first use. */
  private cached(input: InputToStage): string {
    // a source keeps a source's usual mode (a copy of it is writable), a generated file a blob's
    const mode = (input.isSource ? 0o644 : 0o444) | (input.executable ? 0o111 : 0);
    const key = `${input.hash}.${mode.toString(8)}`;
    let path = this.inputs.get(key);
    if (path === undefined) {
      const dir = join(this.root, "inputs");
      if (this.inputs.size === 0) mkdirSync(dir, { recursive: true });
      path = join(dir, key);
      // the copy is what every sandbox sees under this digest: a file edited since it was keyed
      // must not stand for it (another action keyed by the same bytes would use the copy)
      if (copyStamped(input.source, path, this.epoch, mode).hash !== input.hash) {
        rmSync(path, { force: true });
        throw new HbError(
          "INPUT_CHANGED",
          `${input.path} changed during the build: its bytes no longer match the digest the action was keyed by`,
          {
            hint: "run the build again once the file stays put",
          },
        );
      }
      this.inputs.set(key, path);
    }
    return path;
  }

  /**
   * Lays out one action's sandbox. Inputs under `writableAt` (outputs of the same package) are
   * copies in the writable directory, so writing to them cannot reach the CAS or a source.
   * `unsandboxed` (--sandbox=none): one writable tree, generated inputs copied.
   */
  stage(
    name: string,
    inputs: readonly InputToStage[],
    writableAt: ExecPath,
    outDirs: readonly string[],
    unsandboxed: boolean,
    dirBinds: readonly { path: ExecPath; source: string }[] = [],
    merged: MergedView = { files: [], dirs: [], links: [] },
  ): StagedSandbox {
    // a layout made ahead in the background must not recreate the tmpfs directory close removed
    if (this.closed) throw new HbError("INTERNAL", "a sandbox was staged after its build ended");
    const sandboxDir = this.dirFor(name, unsandboxed);
    rmSync(sandboxDir, { recursive: true, force: true });
    const rootDir = join(sandboxDir, "root");
    const useCache = this.onTmpfs && !unsandboxed;
    const rootFiles: StagedFile[] = [];
    const outFiles: StagedFile[] = [];
    for (const f of inputs) {
      if (f.symlink !== undefined) {
        const entry = { path: f.path, source: "", copy: false, symlink: f.symlink };
        if (f.path.startsWith(writableAt + "/")) outFiles.push({ ...entry, path: f.path.slice(writableAt.length + 1) });
        else rootFiles.push(entry);
        continue;
      }
      const source = useCache ? this.cached(f) : f.source;
      if (f.path.startsWith(writableAt + "/")) outFiles.push({ path: f.path.slice(writableAt.length + 1), source, copy: true });
      // a source or CAS blob is never hardlinked into a sandbox: that moves its ctime, which is how
      // an edit with its old mtime put back shows; and without a sandbox the action could write to it
      else rootFiles.push({ path: f.path, source, copy: !useCache });
    }
    // generated inputs again at their package paths, read-only like sources
    for (const f of merged.files) {
      if (f.symlink !== undefined) rootFiles.push({ path: f.path, source: "", copy: false, symlink: f.symlink });
      else rootFiles.push({ path: f.path, source: useCache ? this.cached(f) : f.source, copy: !useCache });
    }
    for (const l of merged.links) rootFiles.push({ path: l.path, source: "", copy: false, symlink: l.target });
    // the own output directories at their package paths: bound in a sandbox, a link to them without one
    for (const d of merged.dirs) {
      if (unsandboxed)
        rootFiles.push({
          path: d.path,
          source: "",
          copy: false,
          symlink: posix.relative(posix.dirname(d.path), `${writableAt}/${d.outRel}`),
        });
    }
    const allOutDirs = [...outDirs, ...merged.dirs.map((d) => d.outRel)];
    const outDir = unsandboxed
      ? join(rootDir, writableAt)
      : this.onTmpfs
        ? this.takeOutDir(dirsOf(outFiles, allOutDirs))
        : join(sandboxDir, "out");
    // directories bound whole: a mount point in the sandbox, a link to them without one
    for (const d of dirBinds) if (unsandboxed) rootFiles.push({ path: d.path, source: "", copy: false, symlink: d.source });
    if (this.reverse) {
      rootFiles.reverse();
      outFiles.reverse();
    }
    const mountPoints = [writableAt, ...(unsandboxed ? [] : [...dirBinds.map((d) => d.path), ...merged.dirs.map((d) => d.path)])];
    stageTree(rootDir, rootFiles, mountPoints);
    stageTree(outDir, outFiles, allOutDirs);
    const outputBinds = unsandboxed ? [] : merged.dirs.map((d) => ({ path: d.path, source: join(outDir, d.outRel) }));
    return { sandboxDir, rootDir, outDir, outputBinds, merged, ...(useCache ? { layout: layoutOf(rootDir, rootFiles, mountPoints) } : {}) };
  }

  /**
   * Removes a used sandbox: at once from a tmpfs; from a disk off the main thread (one rename now,
   * the tree later, waited for by `close`), so the next action starts at once.
   */
  discard(staged: StagedSandbox): void {
    const { sandboxDir, outDir } = staged;
    // what an action left in its kept outputs directory (a partial file when it failed or was
    // interrupted, undeclared files) goes now; the directories stay for the next action
    if (!outDir.startsWith(sandboxDir)) {
      try {
        clearFiles(outDir);
        this.freeOutDirs.push(outDir);
      } catch {
        this.retire(outDir);
      }
    }
    if (this.onTmpfs && sandboxDir.startsWith(this.root)) {
      // removing a tree from memory is quick: sooner done than handed to a thread
      if (!staged.layout || !removeLayout(staged)) rmSync(sandboxDir, { recursive: true, force: true });
      return;
    }
    this.discardOnDisk(sandboxDir);
  }

  private discardOnDisk(sandboxDir: string): void {
    const trash = `${sandboxDir}.trash-${++this.counter}`;
    try {
      renameSync(sandboxDir, trash);
    } catch {
      rmSync(sandboxDir, { recursive: true, force: true });
      return;
    }
    this.cleanups.push(removeTree(trash));
  }

  /** Waits for pending removals; removes the tmpfs directory this build made. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.cleanups);
    if (this.root.includes(`/${PREFIX}`)) await removeTree(this.root);
  }
}

/** The files and directories `stageTree` makes under `rootDir`, directories deepest first. */
function layoutOf(rootDir: string, files: readonly StagedFile[], extraDirs: readonly string[]): { files: string[]; dirs: string[] } {
  const dirs = new Set<string>();
  const addParents = (rel: string) => {
    for (let i = rel.lastIndexOf("/"); i > 0; i = rel.lastIndexOf("/", i - 1)) {
      const d = rel.slice(0, i);
      if (dirs.has(d)) break;
      dirs.add(d);
    }
  };
  for (const f of files) addParents(f.path);
  for (const d of extraDirs) {
    dirs.add(d);
    addParents(d);
  }
  const depth = (d: string) => d.split("/").length;
  return {
    files: files.map((f) => join(rootDir, f.path)),
    dirs: [...[...dirs].sort((a, b) => depth(b) - depth(a)).map((d) => join(rootDir, d)), rootDir],
  };
}

/**
 * Removes a sandbox by the names it was staged with: a sandboxed action cannot add to its
 * read-only execroot, so this is all there is, unless something else is (an audit log): then
 * false, and the caller removes the tree by walking it.
 */
function removeLayout(staged: StagedSandbox): boolean {
  try {
    for (const f of staged.layout!.files) unlinkSync(f);
    for (const d of staged.layout!.dirs) rmdirSync(d);
    rmdirSync(staged.sandboxDir);
    return true;
  } catch {
    return false;
  }
}

/** The directories `files` and `dirs` (relative paths) need, with every parent. */
function dirsOf(files: readonly StagedFile[], dirs: readonly string[]): Set<string> {
  const out = new Set<string>();
  const add = (d: string) => {
    for (; d !== "" && !out.has(d); d = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "") out.add(d);
  };
  for (const f of files) if (f.path.includes("/")) add(f.path.slice(0, f.path.lastIndexOf("/")));
  for (const d of dirs) add(d);
  return out;
}

/** Removes everything below `dir` but the directories in `keep` (relative paths, parents included), which are emptied. */
function clearExcept(dir: string, keep: ReadonlySet<string>, rel = ""): void {
  for (const e of readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory() && keep.has(r)) {
      chmodSync(join(dir, r), 0o755);
      clearExcept(dir, keep, r);
    } else rmSync(join(dir, r), { recursive: true, force: true });
  }
}

/**
 * Removes a tree an action may have made (the whole of a sandbox on disk): Node's recursive rm
 * fails on one nested deeper than a path can name, `rm -rf` does not. Never rejects: what is left
 * sits in the output base, out of every action's way.
 */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await spawnProcess("/bin/rm", ["-rf", "--", path], { env: {}, signal: new AbortController().signal });
  }
}

/** Removes every file below `dir`, keeping its directories. */
function clearFiles(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) clearFiles(join(dir, e.name));
    else rmSync(join(dir, e.name), { force: true });
  }
}

/** tmpfs holds RAM: remove what a killed hb left there (its owner process is gone). */
function removeStale(shm: string): void {
  let entries: string[];
  try {
    entries = readdirSync(shm).filter((e) => e.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    let pid = NaN;
    try {
      pid = Number(readFileSync(join(shm, e, "owner.pid"), "utf8"));
      process.kill(pid, 0);
    } catch (err) {
      if (Number.isNaN(pid) || (err as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(shm, e), { recursive: true, force: true });
    }
  }
}
