import type { StampInfo } from "../keying/key-material";

/**
 * What `--stamp` gives actions that declare `stamp: true`: the commit id and commit time of
 * the workspace. Outside git, the caller's SOURCE_DATE_EPOCH (or the fixed epoch) and no id.
 */
export async function readStamp(root: string, fallbackEpoch: number): Promise<StampInfo> {
  const { execa } = await import("execa");
  const r = await execa("git", ["-C", root, "log", "-1", "--pretty=%H %ct"], { reject: false, extendEnv: true });
  const m = /^([0-9a-f]{40}) (\d+)$/.exec(String(r.stdout ?? "").trim());
  if (r.exitCode === 0 && m) return { commit: m[1]!, time: Number(m[2]) };
  const fromEnv = Number(process.env.SOURCE_DATE_EPOCH);
  return { commit: "", time: Number.isSafeInteger(fromEnv) && fromEnv >= 0 ? fromEnv : fallbackEpoch };
}
