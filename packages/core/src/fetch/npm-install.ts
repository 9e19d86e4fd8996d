import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { gunzipSync } from "node:zlib";
import type { OutputFile } from "../caching/action-cache";
import { readTar } from "../base/tar";
import type { LocalCas } from "../caching/local-cas";
import { HbError } from "../base/errors";
import { symlinkEntry } from "../base/action-result";
import type { FetchStore } from "./fetch-step";
import type { NpmPackage } from "./lockfile";

/**
 * Extracts every package of a lockfile, from its fetched tarball, into `outDir` (the exec path of
 * the node_modules tree): files only (npm ignores links inside tarballs), the first path
 * component stripped, modes 0644 or 0755, contents into the CAS; then node_modules/.bin links.
 * Deterministic: the same lockfile and tarballs give the same tree.
 */
export function installPackages(
  packages: readonly NpmPackage[],
  store: FetchStore,
  cas: LocalCas,
  outDir: string,
  epoch: number,
): OutputFile[] {
  const files = new Map<string, OutputFile>();
  const binTargets = new Set<string>();
  const under = (pkgPath: string) => pkgPath.slice("node_modules/".length);
  for (const pkg of packages) {
    for (const rel of Object.values(pkg.bin)) binTargets.add(posix.join(outDir, under(pkg.path), posix.normalize(rel)));
  }
  for (const pkg of packages) {
    const blob = store.lookup(pkg.url, pkg.integrity);
    if (!blob) throw new HbError("NOT_FETCHED", `${pkg.path} (${pkg.url}) is not fetched`, { hint: "run `hb fetch`" });
    let entries;
    try {
      entries = readTar(gunzipSync(readFileSync(blob.path)));
    } catch (e) {
      throw new HbError("FETCH_FAILED", `${pkg.path}: ${pkg.url} is not a gzipped tarball: ${(e as Error).message}`);
    }
    const root = posix.join(outDir, under(pkg.path));
    for (const e of entries) {
      if (e.type !== "0" && e.type !== "7") continue;
      const slash = e.name.indexOf("/");
      const rel = posix.normalize(slash < 0 ? e.name : e.name.slice(slash + 1));
      if (rel === "" || rel === "." || rel.startsWith("../") || rel.startsWith("/")) {
        throw new HbError("FETCH_FAILED", `${pkg.path}: tarball entry '${e.name}' would land outside the package`);
      }
      const path = posix.join(root, rel);
      const digest = cas.putBytes(e.data, epoch);
      files.set(path, { path, hash: digest.hash, size: digest.size, executable: (e.mode & 0o111) !== 0 || binTargets.has(path) });
    }
  }
  for (const pkg of packages) {
    const pkgRel = under(pkg.path);
    const parent = posix.dirname(pkgRel);
    const binDir = posix.join(outDir, parent === "." ? "" : parent, ".bin");
    const fromBin = posix.relative(binDir, posix.join(outDir, pkgRel));
    for (const [cmd, rel] of Object.entries(pkg.bin).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (cmd.includes("/") || cmd.startsWith(".")) continue;
      const path = posix.join(binDir, cmd);
      files.set(path, symlinkEntry(path, posix.join(fromBin, posix.normalize(rel))));
    }
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
