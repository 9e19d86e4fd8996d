import { sha256Hex } from "../base/digest";
import type { StatCache } from "./stat-cache";

/**
 * Files that describe what is installed on the host: in the default sandbox mode undeclared
 * system tools are visible, so their versions can change an action's bits (Bazel #4558).
 */
const HOST_FILES = ["/etc/os-release", "/var/lib/dpkg/status", "/lib/apk/db/installed", "/var/lib/rpm/rpmdb.sqlite"];

export function hostFingerprint(stats: StatCache): string {
  const parts: string[] = [];
  for (const f of HOST_FILES) {
    try {
      parts.push(`${f}=${stats.digest(f).digest.hash}`);
    } catch {
      // not this kind of host
    }
  }
  return sha256Hex(parts.join("\n"));
}
