import { HbError, attr, rule, type File } from "@hb/core";
import { DEFAULT_TOOLS, requireToolchain } from "./tools";

// Writes a reproducible npm tarball: entries sorted, every one under package/, mode 0644 (0755
// when executable), uid/gid 0 with no names, mtime SOURCE_DATE_EPOCH, ustar, gzip without a
// timestamp or name. It runs as a sandboxed action, with node only. Its one argument is a JSON
// spec: where to write, the package.json, the files and directories to ship by their package
// paths, and the package.json files of workspace packages whose versions replace workspace: ranges.
const PACK = String.raw`"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const spec = JSON.parse(process.argv[2]);
const mtime = Number(process.env.SOURCE_DATE_EPOCH);
const fail = (m) => { process.stderr.write(m + "\n"); process.exit(1); };
const manifest = JSON.parse(fs.readFileSync(spec.packageJson, "utf8"));

// workspace: ranges become the versions packed, as pnpm pack does: "*" the version, "^" and "~"
// before it, a range as it is; an alias (workspace:name@*) becomes npm:name@version
const versions = new Map();
for (const p of spec.workspace) { const m = JSON.parse(fs.readFileSync(p, "utf8")); versions.set(m.name, m.version); }
for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
  for (const [name, range] of Object.entries(manifest[field] || {})) {
    if (typeof range !== "string" || !range.startsWith("workspace:")) continue;
    const rest = range.slice("workspace:".length);
    const alias = /^((?:@[^/@]+\/)?[^@/]+)@(.*)$/.exec(rest);
    const target = alias ? alias[1] : name;
    const wanted = alias ? alias[2] : rest;
    const version = versions.get(target);
    if (version === undefined)
      fail(spec.label + ": " + field + "." + name + " is " + range + ", and 'packages' lists no package.json of " + target + " to take its version from");
    const v = wanted === "*" || wanted === "" ? version : wanted === "^" || wanted === "~" ? wanted + version : wanted;
    manifest[field][name] = alias ? "npm:" + target + "@" + v : v;
  }
}

// what ships, as npm-packlist decides with a files field: what it names (a file, a directory and
// all below it, or a glob anchored at the package root), less what a "!" entry names; and always
// package.json, README, LICENSE, main and bin
const norm = (p) => path.posix.normalize(p).replace(/^\.\//, "").replace(/\/(\*\*)?$/, "");
const glob = (pattern) => {
  if (norm(pattern) === "**") return /^/;
  let re = "";
  for (const seg of norm(pattern).split("/"))
    re += seg === "**" ? "(?:[^/]+/)*" : seg.replace(/[.+^$()|{}[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") + "/";
  return new RegExp("^" + re.replace(/\/$/, "") + "(?:/.*)?$");
};
const bins = typeof manifest.bin === "string" ? [manifest.bin] : Object.values(manifest.bin || {});
const named = new Set([manifest.main, ...bins].filter((m) => typeof m === "string").map(norm));
const always = (p) => p === "package.json" || /^(readme|license|licence|copying)(\..*)?$/i.test(p) || named.has(p);
const files = Array.isArray(manifest.files) ? manifest.files.filter((f) => typeof f === "string") : undefined;
const include = files && files.filter((f) => !f.startsWith("!")).map(glob);
const exclude = files ? files.filter((f) => f.startsWith("!")).map((f) => glob(f.slice(1))) : [];
// without a files field, a .npmignore among the files says what stays out, as npm reads it: its
// rules in order, the last one matching a file or a directory above it deciding ("!" ships it); a
// rule without a slash matches a name at any depth, one with a slash from the package root
const ignoreFile = spec.files.find(([dest]) => dest === ".npmignore");
const ruleOf = (line) => {
  const negated = line.startsWith("!");
  let p = (negated ? line.slice(1) : line).replace(/\/$/, "");
  const anchored = p.replace(/^\//, "").includes("/");
  p = p.replace(/^\//, "");
  let re = "";
  for (let i = 0; i < p.length; i++) {
    if (p.startsWith("**/", i)) { re += "(?:.*/)?"; i += 2; }
    else if (p.startsWith("**", i)) { re += ".*"; i += 1; }
    else if (p[i] === "*") re += "[^/]*";
    else if (p[i] === "?") re += "[^/]";
    else re += p[i].replace(/[.+^$()|{}[\]\\]/g, "\\$&");
  }
  return { negated, re: new RegExp((anchored ? "^" : "(?:^|/)") + re + "(?:/.*)?$") };
};
const ignoreRules = !files && ignoreFile
  ? fs.readFileSync(ignoreFile[1], "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map(ruleOf)
  : [];
const ignored = (p) => {
  let out = false;
  for (const r of ignoreRules) if (r.re.test(p)) out = !r.negated;
  return out;
};
const ships = (p) =>
  p !== ".npmignore" && (always(p) || ((!include || include.some((r) => r.test(p))) && !exclude.some((r) => r.test(p)) && !ignored(p)));

const entries = new Map([["package.json", Buffer.from(JSON.stringify(manifest, null, 2) + "\n")]]);
const add = (dest, src) => {
  const st = fs.statSync(src);
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(src)) add(dest + "/" + e, path.join(src, e));
    return;
  }
  if (dest === "package.json" || !ships(dest)) return;
  if (entries.has(dest)) fail(spec.label + ": two files would be package/" + dest + ": " + entries.get(dest).src + " and " + src);
  entries.set(dest, { src, exec: (st.mode & 0o111) !== 0 });
};
for (const [dest, src] of spec.files) add(dest, src);
const field = (b, off, len, s) => { b.write(s, off, Math.min(len, Buffer.byteLength(s)), "utf8"); };
const octal = (b, off, len, n) => field(b, off, len, n.toString(8).padStart(len - 1, "0") + "\0");
const blocks = [];
for (const [dest, e] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
  const data = Buffer.isBuffer(e) ? e : fs.readFileSync(e.src);
  const exec = !Buffer.isBuffer(e) && e.exec;
  let name = "package/" + dest, prefix = "";
  if (Buffer.byteLength(name) > 100) { const cut = name.lastIndexOf("/", 154); prefix = name.slice(0, cut); name = name.slice(cut + 1); }
  const h = Buffer.alloc(512);
  field(h, 0, 100, name);
  octal(h, 100, 8, exec ? 0o755 : 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, data.length);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156);
  h[156] = 0x30;
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  field(h, 345, 155, prefix);
  let sum = 0;
  for (const x of h) sum += x;
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
}
blocks.push(Buffer.alloc(1024));
fs.writeFileSync(spec.out, zlib.gzipSync(Buffer.concat(blocks), { level: 9 }));
`;

/**
 * A deterministic npm package tarball (`<name>.tgz`) that `npm install <tgz>` accepts: the
 * package.json and the files of srcs and deps (a directory output with all it holds), each at its
 * path in its package (generated files by their path under hb-out/<package>/), less what the
 * package.json's `files` leaves out, or, without it, a `.npmignore` among the files (as npm pack:
 * README, LICENSE, main and bin always ship).
 * `workspace:` ranges become the versions of the workspace packages in `packages`, as `pnpm pack`
 * writes them. Built twice, anywhere, it has the same sha256.
 */
export const npm_package = rule({
  kind: "npm_package",
  attrs: {
    package_json: attr.label({ mandatory: true }),
    srcs: attr.labelList({ doc: "files to ship" }),
    deps: attr.labelList({ doc: "targets whose outputs ship (bundles, tsc's output directory)" }),
    packages: attr.labelList({
      doc: "package.json files of the workspace packages its workspace: ranges name (or their npm_package targets)",
    }),
    node: attr.label({ default: DEFAULT_TOOLS.node }),
  },
  impl(ctx) {
    const [pkgJson] = ctx.files("package_json");
    const node = requireToolchain(ctx.attr.node, "node", ctx.label);
    // tsc's incremental state (a ts_project's <name>.tsbuildinfo) is the build's, never the package's
    const files: File[] = [...ctx.files("srcs"), ...ctx.files("deps").filter((f) => !f.path.endsWith(".tsbuildinfo"))];
    const seen = new Map<string, string>([["package.json", pkgJson!.path]]);
    for (const f of files) {
      const other = seen.get(f.shortPath);
      if (other !== undefined && other !== f.path) {
        throw new HbError("OUTPUT_CONFLICT", `npm_package ${ctx.label}: ${f.path} and ${other} would both be package/${f.shortPath}`);
      }
      seen.set(f.shortPath, f.path);
    }
    seen.delete("package.json");
    // another npm_package stands for its package.json
    const workspace = ctx.attr.packages.flatMap((p) => {
      const m = p.providers.npmPackage as { packageJson?: File } | undefined;
      return m?.packageJson ? [m.packageJson] : p.files.filter((f) => f.path.endsWith("package.json"));
    });
    const script = ctx.declareFile(`_${ctx.name}_pack.js`);
    ctx.actions.write({ output: script, content: PACK });
    const out = ctx.declareFile(`${ctx.name}.tgz`);
    const spec = { label: ctx.label, out: out.path, packageJson: pkgJson!.path, files: [...seen], workspace: workspace.map((f) => f.path) };
    ctx.actions.run({
      executable: node,
      arguments: [script.path, JSON.stringify(spec)],
      inputs: [pkgJson!, ...files, ...workspace, script],
      toolchains: [node],
      outputs: [out],
      mnemonic: "NpmPack",
      progressMessage: `Packing ${out.path}`,
    });
    return { files: [out], npmPackage: { packageJson: pkgJson! } };
  },
});
