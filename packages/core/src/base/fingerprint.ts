import type xxhash from "xxhash-wasm";

// xxhash64 names only local, non-adversarial state (the analysis cache, watch-mode change
// detection); anything that names content in a cache, crosses a machine or is signed is sha256.

type XXHash = Awaited<ReturnType<typeof xxhash>>;
let api: XXHash | undefined;

/** xxhash-wasm compiles its module asynchronously; call once before `fingerprint`. */
export async function loadFingerprinter(): Promise<void> {
  api ??= await (await import("xxhash-wasm")).default();
}

export function fingerprint(data: string | Uint8Array): string {
  if (!api) throw new Error("loadFingerprinter() was not awaited");
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  return api.h64Raw(bytes).toString(16).padStart(16, "0");
}
