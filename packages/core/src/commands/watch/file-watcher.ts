import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FSWatcher } from "chokidar";

/** How often each file is looked at once the system refuses more watches. */
export const POLL_INTERVAL_MS = 200;

/** Where Linux keeps the per-user limit of inotify watches, and the sysctl that raises it. */
const MAX_WATCHES_FILE = "/proc/sys/fs/inotify/max_user_watches";
export const MAX_WATCHES_SYSCTL = "fs.inotify.max_user_watches";

/** How the watch sees changes: a kernel watch per directory, or, refused those, polling. */
export type WatchMode =
  | { kind: "native" }
  | {
      kind: "polling";
      /** why: the system refused a watch (ENOSPC, EMFILE), or the limit set for a test was reached */
      code: string;
      /** fs.inotify.max_user_watches as it stands, when the system has one */
      maxUserWatches?: number;
      intervalMs: number;
    };

export interface FileWatcherOptions {
  /** paths that may have changed: absolute, files or directories, with or without a change of content */
  onPaths(paths: string[]): void;
  /** the mode changed (the system refused a watch: from now on, polling) */
  onMode(mode: WatchMode): void;
  /** act as if the system refused a watch beyond this many directories (tests: the sysctl is machine-wide) */
  limit?: number;
}

/**
 * Watches directories, one at a time and not what is below them, with chokidar: one kernel watch
 * per directory (its entries' changes come as the directory's raw events), so a monorepo's
 * thousands of sources take as many watches as the directories holding them. When the system
 * refuses a watch, every directory is polled instead, each file of it on its own: slower, and
 * still correct.
 */
export class FileWatcher {
  private readonly dirs = new Set<string>();
  /** the chokidar watcher of each batch of directories added together, until they are all removed */
  private readonly owners = new Map<string, FSWatcher>();
  private mode: WatchMode = { kind: "native" };
  private closed = false;

  constructor(private readonly opts: FileWatcherOptions) {}

  get directories(): number {
    return this.dirs.size;
  }

  get currentMode(): WatchMode {
    return this.mode;
  }

  /** Watches exactly `dirs` (absolute, existing directories); resolves once each new one is watched. */
  async watch(dirs: ReadonlySet<string>): Promise<void> {
    const added = [...dirs].filter((d) => !this.dirs.has(d));
    const removed = [...this.dirs].filter((d) => !dirs.has(d));
    for (const d of removed) {
      this.dirs.delete(d);
      const owner = this.owners.get(d);
      this.owners.delete(d);
      if (owner) await this.release(owner, d);
    }
    for (const d of added) this.dirs.add(d);
    if (added.length === 0) return;
    if (this.mode.kind === "native" && this.opts.limit !== undefined && this.dirs.size > this.opts.limit) {
      await this.fallBack("ENOSPC", false);
      return;
    }
    await this.start(added);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = new Set(this.owners.values());
    this.owners.clear();
    await Promise.all([...all].map((w) => w.close()));
  }

  /** One chokidar watcher for `dirs`, resolved when it is ready (every directory watched). */
  private async start(dirs: string[]): Promise<void> {
    const { watch } = await import("chokidar");
    const polling = this.mode.kind === "polling";
    const mine = new Set(dirs);
    const watcher = watch(dirs, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      usePolling: polling,
      interval: POLL_INTERVAL_MS,
      // with kernel watches nothing but the directories themselves is watched: their raw events
      // name the entry that changed; polling looks at each file of them
      ignored: polling
        ? (p: string, st?: { isDirectory(): boolean }) => !mine.has(p) && !(mine.has(dirname(p)) && !st?.isDirectory())
        : (p: string) => !mine.has(p),
    });
    for (const d of dirs) this.owners.set(d, watcher);
    if (polling) {
      watcher.on("all", (_event: string, path: string) => this.opts.onPaths([path]));
    } else {
      watcher.on("raw", (_event: string, name: string | null, details: unknown) => {
        const dir = (details as { watchedPath?: string } | undefined)?.watchedPath;
        if (dir === undefined) return;
        this.opts.onPaths([name ? join(dir, name) : dir]);
      });
    }
    const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    watcher.on("error", (e: unknown) => {
      const code = (e as NodeJS.ErrnoException)?.code;
      if (!polling && (code === "ENOSPC" || code === "EMFILE")) void this.fallBack(code, true);
    });
    await ready;
  }

  /**
   * The system refused a watch: every directory is polled from now on. `rescan`: directories
   * were watched before, and what changed while none was is looked at.
   */
  private async fallBack(code: string, rescan: boolean): Promise<void> {
    if (this.mode.kind === "polling" || this.closed) return;
    let maxUserWatches: number | undefined;
    try {
      maxUserWatches = Number(readFileSync(MAX_WATCHES_FILE, "utf8").trim());
    } catch {
      // not Linux, or /proc is not mounted
    }
    this.mode = { kind: "polling", code, maxUserWatches, intervalMs: POLL_INTERVAL_MS };
    const all = new Set(this.owners.values());
    this.owners.clear();
    await Promise.all([...all].map((w) => w.close()));
    this.opts.onMode(this.mode);
    if (rescan) this.opts.onPaths([...this.dirs]);
    await this.start([...this.dirs]);
  }

  private async release(owner: FSWatcher, dir: string): Promise<void> {
    if ([...this.owners.values()].includes(owner)) await owner.unwatch(dir);
    else await owner.close();
  }
}
