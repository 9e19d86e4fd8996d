/** The size of a pooled buffer: one read from the disk and one write to the socket. */
export const CHUNK = 1 << 20;
/** What a download falls back to when the pool has nothing for it: it always makes progress. */
export const SMALL_CHUNK = 64 << 10;
/** Pooled buffers one download holds at most, when it is alone. */
export const MAX_PER_DOWNLOAD = 6;

/** One download's buffers: taken to read into, given back once the socket took their bytes. */
export interface DownloadLease {
  /** A buffer to read into, or undefined: wait until one given back. */
  take(): Buffer | undefined;
  give(buffer: Buffer): void;
  /**
   * The download is over. Buffers not given back yet still belong to its socket and come back
   * when it has flushed or failed them; when the response was cut short they may never be (a
   * response queued behind another on a closed connection), so they are written off.
   */
  end(cutShort: boolean): void;
}

/**
 * The buffers large downloads read into, for all of them together: the server's memory stays
 * flat however many downloads run and however slowly their clients read (backpressure, not
 * buffering). A download may hold its share of the pool (the pool over the downloads running,
 * at most MAX_PER_DOWNLOAD); a buffer comes back once the socket has taken its bytes and is
 * reused, so nothing a gigabyte passes through is left as garbage. A download that gets no
 * pooled buffer reads through one small buffer of its own: slow readers holding the pool slow
 * the others down, never stop them.
 */
export class DownloadBuffers {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private downloads = 0;

  constructor(private readonly capacity: number) {}

  lease(): DownloadLease {
    this.downloads++;
    const out = new Set<Buffer>();
    let small: Buffer | undefined;
    let smallOut = false;
    let ended = false;
    return {
      take: () => {
        const pooled = this.take(out.size);
        if (pooled) {
          out.add(pooled);
          return pooled;
        }
        // its own pooled buffers come back as the socket takes them
        if (out.size > 0 || smallOut) return undefined;
        small ??= Buffer.allocUnsafeSlow(SMALL_CHUNK);
        smallOut = true;
        return small;
      },
      give: (buffer) => {
        if (buffer === small) smallOut = false;
        else if (out.delete(buffer)) this.free.push(buffer);
      },
      end: (cutShort) => {
        if (ended) return;
        ended = true;
        this.downloads--;
        if (!cutShort) return;
        this.allocated -= out.size;
        out.clear();
      },
    };
  }

  private take(held: number): Buffer | undefined {
    const share = Math.min(MAX_PER_DOWNLOAD, Math.max(1, Math.floor(this.capacity / Math.max(1, this.downloads))));
    if (held >= share) return undefined;
    const buffer = this.free.pop();
    if (buffer) return buffer;
    if (this.allocated >= this.capacity) return undefined;
    this.allocated++;
    return Buffer.allocUnsafeSlow(CHUNK);
  }

  /** Pooled buffers in existence: at most the capacity. */
  get size(): number {
    return this.allocated;
  }
}
