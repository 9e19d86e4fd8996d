// hb AC entries for tests, in the shape hb's clients upload.
import { type KeyObject, randomBytes } from "node:crypto";
import { AC_ENTRY_PAYLOAD_TYPE, signEnvelope } from "@hb/core/engine";

export interface TestHbFile {
  path: string;
  hash: string;
  size: number;
  executable?: boolean;
}

export function hbPayload(actionKey: string, instance: string, files: TestHbFile[]): Record<string, unknown> {
  return {
    actionKey,
    instance,
    semanticsVersion: 1,
    result: {
      files: files.map((f) => ({ executable: false, ...f })),
      dirs: [],
      exitCode: 0,
      stdout: "",
      stderr: "",
      executedAtMs: 0,
      durationMs: 1,
      sandbox: "default",
    },
  };
}

export function hbEntryFromPayload(payload: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({
      format: "hb-ac-entry/1",
      payload: Buffer.from(JSON.stringify(payload)).toString("base64"),
      signatures: [{ keyid: "ab12", sig: randomBytes(64).toString("base64") }],
    }),
  );
}

export function hbEntry(actionKey: string, instance: string, files: TestHbFile[]): Buffer {
  return hbEntryFromPayload(hbPayload(actionKey, instance, files));
}

/** An hb entry signed with `privateKey` as hb's clients sign them (`payloadType` only to forge others). */
export function signedHbEntry(payload: unknown, privateKey: KeyObject, payloadType = AC_ENTRY_PAYLOAD_TYPE): Buffer {
  const envelope = signEnvelope(Buffer.from(JSON.stringify(payload)), payloadType, privateKey);
  return Buffer.from(JSON.stringify({ format: "hb-ac-entry/1", ...envelope }));
}
