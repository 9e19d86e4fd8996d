import * as nodeFs from "node:fs";
import { relative, sep } from "node:path";

// Loading and analysis ask about the workspace's files through this: which names exist, what kind
// each is, where a symlink leads. In the sandboxed BUILD.ts evaluation the answers come from
// snapshots that hb takes outside the sandbox (names and kinds only, never a file's content), so
// that code escaping node:vm finds nothing there to read (docs/ARCHITECTURE.md, Trust boundaries).

/** The part of node:fs that loading uses; node:fs itself is one (outside the sandbox). */
export interface SourceFs {
  lstatSync(path: string, opts?: { throwIfNoEntry?: boolean }): FsStats | undefined;
  statSync(path: string, opts?: { throwIfNoEntry?: boolean }): FsStats | undefined;
  readdirSync(path: string, opts: { withFileTypes: true }): FsDirent[];
  realpathSync(path: string): string;
  existsSync(path: string): boolean;
}

export interface FsStats {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

export interface FsDirent extends FsStats {
  name: string;
}

export const hostFs: SourceFs = nodeFs as unknown as SourceFs;

/** f: file, d: directory, l: symlink, o: anything else (socket, device, fifo) */
export type EntryKind = "f" | "d" | "l" | "o";

/** What BUILD.ts evaluation may know of one package's tree: names and kinds, never contents. */
export interface TreeSnapshot {
  /**
   * Workspace-relative directory -> its entries, as [name, kind]. A directory that is an entry
   * but not a key here lists as empty (an ignored or hidden one); a subpackage's root lists only
   * its BUILD.ts.
   */
  dirs: Record<string, [string, EntryKind][]>;
  /** workspace-relative symlink -> [what it leads to ("" for nothing), its real path] */
  links: Record<string, [EntryKind | "", string]>;
}

/** One path's facts: [workspace-relative path, kind, what a symlink leads to ("" for nothing), real path] */
export type PathFacts = [string, EntryKind, EntryKind | "", string];

export function entryKind(d: FsStats): EntryKind {
  return d.isSymbolicLink() ? "l" : d.isDirectory() ? "d" : d.isFile() ? "f" : "o";
}

class Stats implements FsDirent {
  constructor(
    readonly name: string,
    private readonly kind: EntryKind,
  ) {}
  isFile(): boolean {
    return this.kind === "f";
  }
  isDirectory(): boolean {
    return this.kind === "d";
  }
  isSymbolicLink(): boolean {
    return this.kind === "l";
  }
  // what fast-glob's walker asks besides
  isBlockDevice(): boolean {
    return false;
  }
  isCharacterDevice(): boolean {
    return false;
  }
  isFIFO(): boolean {
    return false;
  }
  isSocket(): boolean {
    return this.kind === "o";
  }
}

function noEntry(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: "ENOENT" });
}

/**
 * A SourceFs answering from snapshots (added as packages are loaded). A path no snapshot covers
 * does not exist for it.
 */
export class SnapshotFs implements SourceFs {
  private readonly kinds = new Map<string, EntryKind>([["", "d"]]);
  private readonly dirs = new Map<string, [string, EntryKind][]>();
  private readonly links = new Map<string, [EntryKind | "", string]>();
  /** real paths of paths below a symlinked directory, where the real path is not the path itself */
  private readonly reals = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly realRoot: string,
  ) {}

  add(s: TreeSnapshot): void {
    for (const [dir, entries] of Object.entries(s.dirs)) {
      this.dirs.set(dir, entries);
      this.kinds.set(dir, "d");
      for (const [name, kind] of entries) this.kinds.set(dir === "" ? name : `${dir}/${name}`, kind);
    }
    for (const [path, link] of Object.entries(s.links)) this.links.set(path, link);
  }

  /** Facts of single paths (statPaths): known from now on, as if a snapshot had listed them. */
  addFacts(facts: readonly PathFacts[]): void {
    for (const [path, kind, to, real] of facts) {
      this.kinds.set(path, kind);
      if (kind === "l") this.links.set(path, [to, real]);
      else if (real) this.reals.set(path, real);
    }
  }

  /** Whether a snapshot or a fact covers `rel`. */
  knows(rel: string): boolean {
    return this.kinds.has(rel);
  }

  private rel(path: string): string | undefined {
    const r = relative(this.root, path);
    if (r.startsWith("..") || r.startsWith(sep)) return undefined;
    return sep === "/" ? r : r.split(sep).join("/");
  }

  private kindOf(path: string, follow: boolean): EntryKind | undefined {
    const rel = this.rel(path);
    if (rel === undefined) return undefined;
    const kind = this.kinds.get(rel);
    if (kind === "l" && follow) return this.links.get(rel)?.[0] || undefined;
    return kind;
  }

  lstatSync(path: string, opts?: { throwIfNoEntry?: boolean }): FsStats | undefined {
    const kind = this.kindOf(path, false);
    if (kind === undefined) {
      if (opts?.throwIfNoEntry === false) return undefined;
      throw noEntry(path);
    }
    return new Stats("", kind);
  }

  statSync(path: string, opts?: { throwIfNoEntry?: boolean }): FsStats | undefined {
    const kind = this.kindOf(path, true);
    if (kind === undefined) {
      if (opts?.throwIfNoEntry === false) return undefined;
      throw noEntry(path);
    }
    return new Stats("", kind);
  }

  readdirSync(path: string): FsDirent[] {
    const rel = this.rel(path);
    if (rel === undefined || this.kindOf(path, true) !== "d") throw noEntry(path);
    return (this.dirs.get(rel) ?? []).map(([name, kind]) => new Stats(name, kind));
  }

  realpathSync(path: string): string {
    const rel = this.rel(path);
    if (rel === undefined || !this.kinds.has(rel)) throw noEntry(path);
    const link = this.links.get(rel);
    if (link) {
      if (!link[1]) throw noEntry(path);
      return link[1];
    }
    return this.reals.get(rel) ?? (rel === "" ? this.realRoot : `${this.realRoot}/${rel}`);
  }

  existsSync(path: string): boolean {
    return this.kindOf(path, true) !== undefined;
  }
}
