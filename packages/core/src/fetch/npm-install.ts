import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { gunzipSync } from "node:zlib";
import type { OutputFile } from "../caching/action-cache";
import { type TarEntry, readTar } from "../base/tar";
import type { LocalCas } from "../caching/local-cas";
import { HbError } from "../base/errors";
import { symlinkEntry } from "../base/action-result";
import type { FetchStore } from "./fetch-step";
import { type NpmPackage, type ParsedLockfile, binMap } from "./npm-tree";

/** A package's files as its tarball holds them: package-relative path -> bytes and mode. */
type Unpacked = Map<string, TarEntry>;

/**
 * Lays out a lockfile's tree, from its fetched tarballs, in `outDir` (the exec path of a
 * node_modules directory): each package's files (npm ignores links inside tarballs), the first
 * path component stripped, modes 0644 or 0755, contents into the CAS (so a package installed at
 * several paths, or in several trees, is stored once); the tree's links (workspace packages,
 * pnpm's store); and node_modules/.bin links for every package's commands. Each tarball is read
 * once. Deterministic: the same lockfile and tarballs give the same tree.
 */
export function installPackages(tree: ParsedLockfile, store: FetchStore, cas: LocalCas, outDir: string, epoch: number): OutputFile[] {
  const files = new Map<string, OutputFile>();
  const unpacked = new Map<string, Unpacked>();
  const unpack = (pkg: NpmPackage): Unpacked => {
    const key = `${pkg.url}\0${pkg.integrity}`;
    let got = unpacked.get(key);
    if (got) return got;
    const blob = store.lookup(pkg.url, pkg.integrity);
    if (!blob) throw new HbError("NOT_FETCHED", `${pkg.path} (${pkg.url}) is not fetched`, { hint: "run `hb fetch`" });
    let entries;
    try {
      entries = readTar(gunzipSync(readFileSync(blob.path)));
    } catch (e) {
      throw new HbError("FETCH_FAILED", `${pkg.path}: ${pkg.url} is not a gzipped tarball: ${(e as Error).message}`);
    }
    got = new Map();
    for (const e of entries) {
      if (e.type !== "0" && e.type !== "7") continue;
      const slash = e.name.indexOf("/");
      const rel = posix.normalize(slash < 0 ? e.name : e.name.slice(slash + 1));
      if (rel === "" || rel === "." || rel.startsWith("../") || rel.startsWith("/")) {
        throw new HbError("FETCH_FAILED", `${pkg.path}: tarball entry '${e.name}' would land outside the package`);
      }
      got.set(rel, e);
    }
    unpacked.set(key, got);
    return got;
  };
  /** a package's commands: as the lockfile says, else as its own package.json says */
  const binsOf = (pkg: NpmPackage): Record<string, string> => {
    if (pkg.bin) return pkg.bin;
    const manifest = unpack(pkg).get("package.json");
    if (!manifest) return {};
    try {
      return binMap(pkg.name, (JSON.parse(manifest.data.toString("utf8")) as { bin?: unknown }).bin) ?? {};
    } catch {
      return {};
    }
  };
  const at = (path: string) => posix.join(outDir, path.slice("node_modules/".length));

  for (const pkg of tree.packages) {
    const root = at(pkg.path);
    const bins = new Set(Object.values(binsOf(pkg)).map((rel) => posix.join(root, posix.normalize(rel))));
    for (const [rel, e] of unpack(pkg)) {
      const path = posix.join(root, rel);
      const digest = cas.putBytes(e.data, epoch);
      files.set(path, { path, hash: digest.hash, size: digest.size, executable: (e.mode & 0o111) !== 0 || bins.has(path) });
    }
  }
  for (const l of tree.links) files.set(at(l.path), symlinkEntry(at(l.path), l.target));
  // commands: in the node_modules directory a package (or a link to one) sits in
  const commands: { path: string; bin: Record<string, string> }[] = [
    ...tree.packages.map((p) => ({ path: p.path, bin: binsOf(p) })),
    ...tree.links.map((l) => ({ path: l.path, bin: l.bin ?? (l.pkg ? binsOf(l.pkg) : {}) })),
  ];
  for (const { path, bin } of commands) {
    const nm = path.lastIndexOf("node_modules/") + "node_modules/".length;
    const binDir = at(`${path.slice(0, nm)}.bin`);
    const fromBin = posix.relative(binDir, at(path));
    for (const [cmd, rel] of Object.entries(bin).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (cmd.includes("/") || cmd.startsWith(".")) continue;
      const link = posix.join(binDir, cmd);
      files.set(link, symlinkEntry(link, posix.join(fromBin, posix.normalize(rel))));
    }
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
