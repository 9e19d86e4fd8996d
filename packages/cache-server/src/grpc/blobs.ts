import { createHash } from "node:crypto";
import { closeSync, createReadStream, readFileSync, writeFileSync } from "node:fs";
import { sha256Hex } from "@hb/core/engine";
import type { BlobStore } from "../storage/blob-store";
import type { EntryKey } from "../storage/entry";
import { EMPTY_SHA256 } from "../protocol/empty-blob";

/** A REAPI digest as the store names it. */
export interface BlobDigest {
  hash: string;
  size_bytes: number;
}

export function casKey(instance: string, hash: string): EntryKey {
  return { instance, kind: "cas", hash };
}

export function isEmpty(d: BlobDigest): boolean {
  return d.size_bytes === 0 && d.hash === EMPTY_SHA256;
}

/**
 * The CAS of one store as the gRPC services use it. Every byte read out is hashed on its way
 * (a blob whose file no longer matches is dropped and reads as missing), and every byte taken
 * in is hashed before it is named by its digest, as the HTTP side does.
 */
export class GrpcBlobs {
  constructor(
    readonly store: BlobStore,
    private readonly onCorrupt: (key: EntryKey, detail: string) => void = () => {},
  ) {}

  has(instance: string, d: BlobDigest): boolean {
    if (isEmpty(d)) return true;
    const row = this.store.lookup(casKey(instance, d.hash));
    return row !== undefined && row.size === d.size_bytes && this.store.hasIntact(casKey(instance, d.hash));
  }

  /** A whole blob (small ones: batch reads, Actions, Commands, Directories), checked; undefined when missing or corrupt. */
  async read(instance: string, d: BlobDigest): Promise<Buffer | undefined> {
    if (isEmpty(d)) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const chunk of this.stream(instance, d, 0)) {
      if (chunk === undefined) return undefined;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /**
   * A blob's bytes from `offset` in chunks; yields undefined (and stops) when it is missing or
   * turns out corrupt, which the caller reports as NOT_FOUND / DATA_LOSS. The whole file is
   * hashed even when an offset skips its start.
   */
  async *stream(instance: string, d: BlobDigest, offset: number): AsyncGenerator<Buffer | undefined> {
    if (isEmpty(d)) return;
    const key = casKey(instance, d.hash);
    const entry = await this.store.open(key);
    if (!entry || entry.row.size !== d.size_bytes) {
      if (entry) closeSync(entry.fd);
      yield undefined;
      return;
    }
    this.store.touch(key);
    const hash = createHash("sha256");
    let at = 0;
    let held: Buffer | undefined;
    try {
      for await (const chunk of createReadStream(entry.path, { fd: entry.fd, autoClose: false, start: 0, highWaterMark: 1 << 20 })) {
        const b = chunk as Buffer;
        hash.update(b);
        // one chunk is held back until the next arrives, so the last one goes out only once the hash matched
        if (held) yield held;
        held = at + b.length > offset ? b.subarray(Math.max(0, offset - at)) : undefined;
        at += b.length;
      }
    } finally {
      closeSync(entry.fd);
    }
    if (hash.digest("hex") !== d.hash || at !== d.size_bytes) {
      this.store.discardCorrupt(key, entry.row.ino, `its bytes no longer hash to its name`);
      this.onCorrupt(key, "bytes changed on disk");
      yield undefined;
      return;
    }
    if (held && held.length > 0) yield held;
  }

  /** Stores bytes under their digest after checking they hash to it; false when they do not. */
  put(instance: string, d: BlobDigest, bytes: Buffer): boolean {
    if (bytes.length !== d.size_bytes || sha256Hex(bytes) !== d.hash) return false;
    if (isEmpty(d) || this.has(instance, d)) return true;
    const tmp = this.store.tempPath();
    writeFileSync(tmp, bytes, { mode: 0o444 });
    this.store.commit(casKey(instance, d.hash), tmp, d.hash, d.size_bytes);
    return true;
  }

  /** Takes a file already hashed (`hash`, `size`) into the CAS; the file is moved. */
  adopt(instance: string, file: string, hash: string, size: number): void {
    this.store.commit(casKey(instance, hash), file, hash, size);
  }

  /** An action cache entry (a serialized ActionResult), read whole; undefined when there is none. */
  async readEntry(instance: string, actionHash: string): Promise<Buffer | undefined> {
    const key: EntryKey = { instance, kind: "ac", hash: actionHash };
    const entry = await this.store.open(key);
    if (!entry) return undefined;
    try {
      const bytes = readFileSync(entry.path);
      if (sha256Hex(bytes) !== entry.row.sha256) {
        this.store.discardCorrupt(key, entry.row.ino, "its bytes changed on disk");
        this.onCorrupt(key, "bytes changed on disk");
        return undefined;
      }
      this.store.touch(key);
      return bytes;
    } finally {
      closeSync(entry.fd);
    }
  }

  /** Stores (or replaces: REAPI lets a result be updated) an action cache entry. */
  putEntry(instance: string, actionHash: string, bytes: Buffer): void {
    const tmp = this.store.tempPath();
    writeFileSync(tmp, bytes, { mode: 0o444 });
    this.store.commit({ instance, kind: "ac", hash: actionHash }, tmp, sha256Hex(bytes), bytes.length);
  }

  pathOf(instance: string, hash: string): string {
    return this.store.pathOf(casKey(instance, hash));
  }
}
