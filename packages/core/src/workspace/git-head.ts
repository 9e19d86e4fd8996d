import { readFileSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";

/**
 * The commit checked out in `root`, read from the git directory itself (HEAD, the ref it names,
 * packed-refs; a worktree's `.git` file and commondir), without starting git: every run record
 * names it, and a no-op build may not spend a process on it. Null outside git or when unreadable.
 */
export function readGitHead(root: string): string | null {
  try {
    let gitDir = join(root, ".git");
    if (statSync(gitDir).isFile()) {
      const pointer = /^gitdir: (.+)$/m.exec(readFileSync(gitDir, "utf8"))?.[1]?.trim();
      if (!pointer) return null;
      gitDir = isAbsolute(pointer) ? pointer : join(root, pointer);
    }
    const head = readFileSync(join(gitDir, "HEAD"), "utf8").trim();
    if (/^[0-9a-f]{40,64}$/.test(head)) return head;
    const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
    if (!ref) return null;
    let common = gitDir;
    try {
      const c = readFileSync(join(gitDir, "commondir"), "utf8").trim();
      common = isAbsolute(c) ? c : join(gitDir, c);
    } catch {
      // not a worktree: refs live here
    }
    for (const dir of [gitDir, common]) {
      try {
        const id = readFileSync(join(dir, ref), "utf8").trim();
        if (/^[0-9a-f]{40,64}$/.test(id)) return id;
      } catch {
        // packed, or in the common directory
      }
    }
    const packed = readFileSync(join(common, "packed-refs"), "utf8");
    for (const line of packed.split("\n")) {
      const [id, name] = line.split(" ");
      if (name === ref && id && /^[0-9a-f]{40,64}$/.test(id)) return id;
    }
    return null;
  } catch {
    return null;
  }
}
