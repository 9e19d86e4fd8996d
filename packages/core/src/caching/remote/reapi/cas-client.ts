import { createHash, randomUUID } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { HbError } from "../../../base/errors";
import { type ReapiChannel, MAX_MESSAGE, codeOf, describeGrpcError } from "./channel";
import { DIGEST_FUNCTION_SHA256, type Digest } from "./proto";
import { ByteStreamService, CapabilitiesService, CasService, readResourceName, writeResourceName } from "./services";

/** A blob to upload: its bytes in memory, or a file holding them. */
export interface BlobSource {
  digest: Digest;
  bytes?: Buffer;
  file?: string;
}

/** A blob that did not arrive as its digest says: missing on the server, or other bytes. */
export class BlobError extends Error {
  constructor(
    readonly reason: "missing-blob" | "corrupt-blob",
    message: string,
  ) {
    super(message);
  }
}

const CHUNK = 1024 * 1024;
/** room left in a batch message for everything but the data */
const BATCH_OVERHEAD = 64 * 1024;

export function digestOf(bytes: Buffer): Digest {
  return { hash: createHash("sha256").update(bytes).digest("hex"), size_bytes: bytes.length };
}

export function digestKey(d: Digest): string {
  return `${d.hash}/${d.size_bytes}`;
}

/**
 * The CAS of one REAPI instance: what is missing, uploads (batched under the server's limit,
 * ByteStream above it) and downloads, each re-hashed as it arrives.
 */
export class CasClient {
  private maxBatch: Promise<number> | undefined;
  /**
   * Blobs this client is sending: actions running at once share inputs (a tool's 10 MiB binary),
   * which FindMissingBlobs reports missing to each until one upload lands. What the server says
   * is missing once an upload landed is sent again (it may have evicted it).
   */
  private readonly sending = new Map<string, Promise<void>>();
  bytesUploaded = 0;
  bytesDownloaded = 0;

  constructor(
    readonly channel: ReapiChannel,
    readonly instance: string,
  ) {}

  /** The server's batch limit, asked once (Capabilities); SHA-256 must be among its digest functions. */
  batchLimit(): Promise<number> {
    this.maxBatch ??= this.channel.unary(CapabilitiesService.GetCapabilities, { instance_name: this.instance }).then((caps) => {
      const cache = caps.cache_capabilities;
      if (cache && cache.digest_functions.length > 0 && !cache.digest_functions.includes(DIGEST_FUNCTION_SHA256))
        throw new HbError("REMOTE_UNSUPPORTED", `${this.channel.display} does not offer SHA-256 digests, which hb uses`);
      const limit = cache?.max_batch_total_size_bytes || MAX_MESSAGE;
      return Math.min(limit, MAX_MESSAGE) - BATCH_OVERHEAD;
    });
    return this.maxBatch;
  }

  async findMissing(digests: readonly Digest[]): Promise<Digest[]> {
    const unique = [...new Map(digests.map((d) => [digestKey(d), d])).values()];
    const missing: Digest[] = [];
    for (let i = 0; i < unique.length; i += 4096) {
      const res = await this.channel.unary(CasService.FindMissingBlobs, {
        instance_name: this.instance,
        blob_digests: unique.slice(i, i + 4096),
      });
      missing.push(...res.missing_blob_digests);
    }
    return missing;
  }

  /** Uploads what the server lacks of `blobs`; resolves once each is stored. */
  async upload(blobs: readonly BlobSource[]): Promise<void> {
    const byKey = new Map(blobs.map((b) => [digestKey(b.digest), b]));
    const missing = await this.findMissing(blobs.map((b) => b.digest));
    const waits: Promise<void>[] = [];
    const mine: BlobSource[] = [];
    for (const d of missing) {
      const key = digestKey(d);
      const b = byKey.get(key);
      if (!b) continue;
      const underway = this.sending.get(key);
      if (underway) waits.push(underway);
      else mine.push(b);
    }
    const sending = this.send(mine);
    for (const b of mine) this.sending.set(digestKey(b.digest), sending);
    try {
      await Promise.all([sending, ...waits]);
    } finally {
      for (const b of mine) this.sending.delete(digestKey(b.digest));
    }
  }

  private async send(blobs: readonly BlobSource[]): Promise<void> {
    const limit = await this.batchLimit();
    let batch: BlobSource[] = [];
    let size = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const res = await this.channel.unary(CasService.BatchUpdateBlobs, {
        instance_name: this.instance,
        requests: batch.map((b) => ({ digest: b.digest, data: b.bytes ?? readFileSync(b.file!) })),
      });
      const refused = res.responses.find((r) => r.status && r.status.code !== status.OK);
      if (refused) throw new Error(`the server refused blob ${refused.digest?.hash.slice(0, 12)}: ${refused.status!.message}`);
      this.bytesUploaded += size;
      batch = [];
      size = 0;
    };
    for (const b of blobs) {
      const d = b.digest;
      if (d.size_bytes > limit) {
        await this.write(b);
        continue;
      }
      if (size + d.size_bytes > limit) await flush();
      batch.push(b);
      size += d.size_bytes;
    }
    await flush();
  }

  /** ByteStream Write, in chunks of 1 MiB; a failed stream is sent again whole, as a new upload (retried). */
  private async write(b: BlobSource): Promise<void> {
    const total = b.digest.size_bytes;
    const fd = b.file ? openSync(b.file, "r") : undefined;
    try {
      const res = await this.channel.retried(() => {
        const name = writeResourceName(this.instance, randomUUID(), b.digest);
        return this.channel.clientStream(
          ByteStreamService.Write,
          async (send) => {
            for (let at = 0; at < total || at === 0;) {
              const n = Math.min(CHUNK, total - at);
              // a buffer per chunk: the stream may hold a message unserialized until it drains, and a
              // shared buffer would be refilled under it (the server then refuses bytes that do not hash)
              const buf = fd !== undefined ? Buffer.allocUnsafe(n) : undefined;
              const data = buf ? buf.subarray(0, readSync(fd!, buf, 0, n, at)) : b.bytes!.subarray(at, at + n);
              await send({ resource_name: at === 0 ? name : "", write_offset: at, finish_write: at + data.length >= total, data });
              at += data.length;
              if (total === 0) break;
            }
          },
          10 * 60_000,
        );
      });
      if (res.committed_size !== total) throw new Error(`ByteStream Write committed ${res.committed_size} of ${total} bytes`);
      this.bytesUploaded += total;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** A blob's bytes, re-hashed; BlobError when the server lacks it or sends other bytes. */
  async read(d: Digest): Promise<Buffer> {
    if (d.size_bytes === 0) return Buffer.alloc(0);
    let data: Buffer;
    if (d.size_bytes <= (await this.batchLimit())) {
      const res = await this.channel.unary(CasService.BatchReadBlobs, { instance_name: this.instance, digests: [d] });
      const r = res.responses[0];
      if (!r || (r.status && r.status.code === status.NOT_FOUND))
        throw new BlobError("missing-blob", `blob ${digestKey(d)} is not on the server`);
      if (r.status && r.status.code !== status.OK) throw new Error(`reading blob ${digestKey(d)}: ${r.status.message}`);
      data = r.data;
    } else {
      try {
        // a failed stream is read again from the start (retried)
        data = await this.channel.retried(async () => {
          const chunks: Buffer[] = [];
          const stream = this.channel.serverStream(
            ByteStreamService.Read,
            { resource_name: readResourceName(this.instance, d) },
            10 * 60_000,
          );
          for await (const res of stream) chunks.push((res as { data: Buffer }).data);
          return Buffer.concat(chunks);
        });
      } catch (e) {
        if (codeOf(e) === status.NOT_FOUND) throw new BlobError("missing-blob", `blob ${digestKey(d)} is not on the server`);
        throw new Error(`ByteStream Read of ${digestKey(d)}: ${describeGrpcError(e)}`);
      }
    }
    const got = digestOf(data);
    if (got.hash !== d.hash || got.size_bytes !== d.size_bytes)
      throw new BlobError(
        "corrupt-blob",
        `blob ${d.hash.slice(0, 12)} arrived as ${got.hash.slice(0, 12)} (${got.size_bytes} bytes, not ${d.size_bytes})`,
      );
    this.bytesDownloaded += data.length;
    return data;
  }

  /** A blob into `file`, re-hashed (see read). */
  async download(d: Digest, file: string): Promise<void> {
    writeFileSync(file, await this.read(d));
  }
}
