import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { removeTempDirs, tempDir } from "../testing/server";
import { inlineDigest } from "../storage/digest-thread";
import { receiveBody } from "./body";
import { Refusal } from "./refusal";

afterAll(removeTempDirs);

/** A request body the test feeds by hand. */
function fakeRequest(): PassThrough & { complete: boolean } {
  return Object.assign(new PassThrough(), { complete: false });
}

const asRequest = (r: PassThrough) => r as unknown as IncomingMessage;

describe("receiveBody", () => {
  it("streams into a file, hashing as it goes", async () => {
    const file = join(tempDir(), "upload");
    const req = fakeRequest();
    const received = receiveBody(asRequest(req), { declared: 11, max: 100, into: { file }, onBytes: () => {} });
    req.write("hello ");
    req.complete = true;
    req.end("world");
    expect(await received).toEqual({ size: 11, sha256: createHash("sha256").update("hello world").digest("hex") });
    expect(readFileSync(file, "utf8")).toBe("hello world");
  });

  it("refuses a body over the limit as it arrives (413)", async () => {
    const req = fakeRequest();
    const received = receiveBody(asRequest(req), { declared: undefined, max: 4, into: "memory", onBytes: () => {} });
    req.write("12345");
    await expect(received).rejects.toMatchObject({ status: 413, reason: "too_large" });
  });

  it("refuses a body shorter than its Content-Length (400)", async () => {
    const req = fakeRequest();
    const received = receiveBody(asRequest(req), { declared: 10, max: 100, into: "discard", onBytes: () => {} });
    req.end("short");
    await expect(received).rejects.toBeInstanceOf(Refusal);
  });

  it("on a client gone before the file was even opened, settles only once the file is closed, so removing it sticks", async () => {
    const file = join(tempDir(), "upload");
    const req = fakeRequest();
    const received = receiveBody(asRequest(req), { declared: 10, max: 100, into: { file }, onBytes: () => {} });
    req.emit("close");
    await expect(received).rejects.toMatchObject({ status: 400, reason: "incomplete" });
    rmSync(file, { force: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(file)).toBe(false);
  });

  it("refuses a body trickling in slower than MIN_PROGRESS per slowClientMs (408)", async () => {
    const req = fakeRequest();
    const received = receiveBody(asRequest(req), { declared: 1000, max: 1000, into: "discard", onBytes: () => {}, slowClientMs: 100 });
    const drip = setInterval(() => req.write("x"), 20);
    await expect(received).rejects.toMatchObject({ status: 408, reason: "slow_client" });
    clearInterval(drip);
  });

  it("does not count against the client the time the server held its body (the digest behind)", async () => {
    const req = fakeRequest();
    let release: () => void = () => {};
    const slowDigest = {
      ...inlineDigest(),
      // the first chunk is taken only after three intervals without a byte from the client
      update: (() => {
        let first = true;
        return () => !(first && !(first = false));
      })(),
      ready: () => new Promise<void>((r) => (release = r)),
    };
    setTimeout(() => release(), 300);
    const received = receiveBody(asRequest(req), {
      declared: 2,
      max: 10,
      into: "discard",
      onBytes: () => {},
      slowClientMs: 100,
      digest: slowDigest,
    });
    req.write("a");
    await new Promise((r) => setTimeout(r, 350));
    req.complete = true;
    req.end("b");
    await expect(received).resolves.toMatchObject({ size: 2 });
  });
});
