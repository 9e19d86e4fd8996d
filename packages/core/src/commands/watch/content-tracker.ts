import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { fingerprint } from "../../base/fingerprint";

/** What a batch of file events amounts to once each file's content is compared with what it was. */
export interface ContentChanges {
  /** tracked files whose content changed, appeared or went (absolute) */
  changed: string[];
  /** untracked entries that appeared in or went from a watched directory (absolute) */
  entries: string[];
  /** a tracked file or another entry appeared or went: globs and package listings may differ */
  structural: boolean;
}

const ABSENT = "";

/**
 * The content of every file the watch depends on, as xxhash64 fingerprints (local,
 * non-adversarial: docs/ARCHITECTURE.md). A change is a change of content: a touch, a save of the
 * same bytes or an editor's write-and-rename that leaves the bytes as they were changes nothing.
 */
export class ContentTracker {
  /** tracked file -> fingerprint of its content, ABSENT when it is not there */
  private readonly known = new Map<string, string>();
  /** tracked file -> its fingerprint when the last build started: what a build's changes are measured from */
  private readonly built = new Map<string, string>();
  /** untracked files seen in watched directories: their coming and going is what changes a listing */
  private readonly others = new Set<string>();

  /** Starts tracking `files` not tracked yet, as they are now; stops tracking the others. */
  track(files: ReadonlySet<string>): void {
    for (const f of this.known.keys()) if (!files.has(f)) (this.known.delete(f), this.built.delete(f));
    for (const f of files) {
      this.others.delete(f);
      if (!this.known.has(f)) {
        const now = contentOf(f);
        this.known.set(f, now);
        this.built.set(f, now);
      }
    }
  }

  /**
   * Of `files` seen changing since the last build, those whose content differs from what that
   * build started with; the next build starts from their content now. A file written in two
   * steps (truncated, then written) is seen changing twice, and back where it was: no change.
   */
  sinceBuild(files: Iterable<string>): string[] {
    const net: string[] = [];
    for (const f of files) {
      const now = this.known.get(f);
      if (now === undefined || now === this.built.get(f)) continue;
      this.built.set(f, now);
      net.push(f);
    }
    return net.sort();
  }

  /**
   * Compares the files at `paths` (files or directories events named) with what they were: a
   * directory stands for every tracked file in it.
   */
  check(paths: Iterable<string>): ContentChanges {
    const changed: string[] = [];
    const entries: string[] = [];
    const look = new Set<string>();
    for (const p of paths) {
      look.add(p);
      if (this.known.has(p) || statSync(p, { throwIfNoEntry: false })?.isDirectory() !== true) continue;
      for (const f of this.known.keys()) if (dirname(f) === p) look.add(f);
    }
    for (const p of look) {
      const before = this.known.get(p);
      if (before === undefined) {
        // not a file the watch depends on: only whether it is there counts (a listing may change)
        const exists = statSync(p, { throwIfNoEntry: false }) !== undefined;
        if (exists !== this.others.has(p)) entries.push(p);
        if (exists) this.others.add(p);
        else this.others.delete(p);
        continue;
      }
      const now = contentOf(p);
      if (now === before) continue;
      this.known.set(p, now);
      changed.push(p);
      if ((now === ABSENT) !== (before === ABSENT)) entries.push(p);
    }
    return { changed: changed.sort(), entries: entries.sort(), structural: entries.length > 0 };
  }
}

function contentOf(file: string): string {
  try {
    return fingerprint(readFileSync(file));
  } catch {
    return ABSENT;
  }
}
