import { HbError, attr, rule, type File } from "@hb/core";
import { DEFAULT_TOOLS, requireToolchain } from "./tools";

// Writes a reproducible npm tarball: entries sorted, every one under package/, mode 0644 (0755
// when executable), uid/gid 0 with no names, mtime SOURCE_DATE_EPOCH, ustar, gzip without a
// timestamp or name. It runs as a sandboxed action, with node only.
const PACK = `"use strict";
const fs = require("fs");
const zlib = require("zlib");
const [out, ...pairs] = process.argv.slice(2);
const mtime = Number(process.env.SOURCE_DATE_EPOCH);
const entries = pairs.map((p) => { const i = p.indexOf("="); return [p.slice(0, i), p.slice(i + 1)]; }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const field = (b, off, len, s) => { b.write(s, off, Math.min(len, Buffer.byteLength(s)), "utf8"); };
const octal = (b, off, len, n) => field(b, off, len, n.toString(8).padStart(len - 1, "0") + "\\0");
const blocks = [];
for (const [dest, src] of entries) {
  const data = fs.readFileSync(src);
  const exec = (fs.statSync(src).mode & 0o111) !== 0;
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
  field(h, 257, 6, "ustar\\0");
  field(h, 263, 2, "00");
  field(h, 345, 155, prefix);
  let sum = 0;
  for (const x of h) sum += x;
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\\0 ");
  blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
}
blocks.push(Buffer.alloc(1024));
fs.writeFileSync(out, zlib.gzipSync(Buffer.concat(blocks), { level: 9 }));
`;

/**
 * A deterministic npm package tarball (`<name>.tgz`) that `npm install <tgz>` accepts: the
 * package.json and the files of srcs and deps, each at its path in its package (generated files
 * by their path under hb-out/<package>/). Built twice, anywhere, it has the same sha256.
 */
export const npm_package = rule({
  kind: "npm_package",
  attrs: {
    package_json: attr.label({ mandatory: true }),
    srcs: attr.labelList({ doc: "files to ship" }),
    deps: attr.labelList({ doc: "targets whose outputs ship (bundles)" }),
    node: attr.label({ default: DEFAULT_TOOLS.node }),
  },
  impl(ctx) {
    const [pkgJson] = ctx.files("package_json");
    const node = requireToolchain(ctx.attr.node, "node", ctx.label);
    const files: File[] = [...ctx.files("srcs"), ...ctx.files("deps")];
    const seen = new Map<string, string>([["package.json", pkgJson!.path]]);
    for (const f of files) {
      const other = seen.get(f.shortPath);
      if (other !== undefined && other !== f.path) {
        throw new HbError("OUTPUT_CONFLICT", `npm_package ${ctx.label}: ${f.path} and ${other} would both be package/${f.shortPath}`);
      }
      seen.set(f.shortPath, f.path);
    }
    const script = ctx.declareFile(`_${ctx.name}_pack.js`);
    ctx.actions.write({ output: script, content: PACK });
    const out = ctx.declareFile(`${ctx.name}.tgz`);
    ctx.actions.run({
      executable: node,
      arguments: [script.path, out.path, ...[...seen].map(([dest, src]) => `${dest}=${src}`)],
      inputs: [pkgJson!, ...files, script],
      toolchains: [node],
      outputs: [out],
      mnemonic: "NpmPack",
      progressMessage: `Packing ${out.path}`,
    });
    return { files: [out] };
  },
});
