#!/usr/bin/env node
// gen-monorepo.mjs — a deterministic TypeScript monorepo for hb's benchmarks (after the team's
// shared/peers generator, so the figures compare with the side-by-side benchmark; hb files only).
//
// Usage: node bench/gen-monorepo.mjs --out DIR [--n 200] [--f 10] [--lines 50] [--max-deps 3]
//                                    [--seed 1] [--esbuild PATH] [--force]
//
// Emits, in DIR:
//   packages/pI/src/{m0..m(F-2),index}.ts  F files of ~LINES lines; index.ts imports its deps
//   packages/pI/BUILD.ts                   one genrule: esbuild transpiles src/*.ts to dist/*.js
//   tools/bin/esbuild, tools/BUILD.ts      a byte copy of the native esbuild binary, as a filegroup
//   hb.config.ts
//   bench.json                             manifest: DAG, and a leaf / mid / root file to edit
//
// Every choice comes from a seeded PRNG (mulberry32): no timestamps, no host paths in any file
// (tools/bin/esbuild is a byte copy of the binary given).
// The binary sits in tools/bin/, not tools/: `filegroup({ name: "esbuild", srcs: ["esbuild"] })`
// would name the filegroup itself (a label names the target before the file, as in Bazel): a cycle.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_ESBUILD = path.join(REPO, "node_modules/@esbuild/linux-x64/bin/esbuild");
const ESBUILD_FLAGS = "--format=esm --log-level=warning";
const WORDS = [
  "alpha",
  "bravo",
  "charlie",
  "delta",
  "echo",
  "foxtrot",
  "golf",
  "hotel",
  "india",
  "juliet",
  "kilo",
  "lima",
  "mike",
  "november",
  "oscar",
  "papa",
  "quebec",
  "romeo",
  "sierra",
  "tango",
];

// mulberry32: tiny, fast, deterministic
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each package depends on up to maxDeps earlier packages: a DAG in index order. */
function makeDag(n, maxDeps, ri) {
  const deps = [];
  for (let i = 0; i < n; i++) {
    const k = Math.min(i, ri(0, maxDeps));
    const s = new Set();
    while (s.size < k) s.add(ri(0, i - 1));
    deps.push([...s].sort((a, b) => a - b));
  }
  return deps;
}

function tsModule(pi, base, lines, ri, pick) {
  const tag = `${pi}_${base}`;
  const out = [
    `// generated: package p${pi}, module ${base}`,
    `export interface Item_${tag} {`,
    `  id: number;`,
    `  name: string;`,
    `  tags: readonly string[];`,
    `  weight?: number;`,
    `}`,
    ``,
    `export type Mode_${tag} = "fast" | "slow" | "auto";`,
    ``,
  ];
  let fn = 0;
  while (out.length < lines - 2) {
    const w = pick(WORDS),
      a = ri(1, 97),
      b = ri(1, 89);
    const name = `${w}${fn++}_${tag}`;
    switch (ri(0, 3)) {
      case 0:
        out.push(
          `export function ${name}(items: Item_${tag}[], mode: Mode_${tag} = "auto"): number {`,
          `  let acc: number = ${a};`,
          `  for (const it of items) {`,
          `    acc += it.id * ${b} + (it.weight ?? 0);`,
          `    if (mode === "fast" && acc > ${a * 1000}) break;`,
          `  }`,
          `  return acc % ${b + 7};`,
          `}`,
          ``,
        );
        break;
      case 1:
        out.push(
          `export const ${name} = (s: string): string =>`,
          `  s.split("").map((c: string, i: number) => (i % ${ri(2, 5)} === 0 ? c.toUpperCase() : c)).join("") + "${w}";`,
          ``,
        );
        break;
      case 2:
        out.push(
          `export class ${name[0].toUpperCase()}${name.slice(1)} {`,
          `  private readonly store = new Map<string, Item_${tag}>();`,
          `  constructor(private readonly limit: number = ${a}) {}`,
          `  add(it: Item_${tag}): boolean {`,
          `    if (this.store.size >= this.limit) return false;`,
          `    this.store.set(it.name, it);`,
          `    return true;`,
          `  }`,
          `  get size(): number { return this.store.size; }`,
          `}`,
          ``,
        );
        break;
      default:
        out.push(
          `export const ${name}: Record<string, number> = {`,
          `  ${w}: ${a},`,
          `  ${pick(WORDS)}x: ${b},`,
          `  total: ${a + b},`,
          `};`,
          ``,
        );
    }
  }
  out.push(`export const __rev_${tag} = 0; // bench edit marker`);
  return out.join("\n") + "\n";
}

function tsIndex(pi, deps, fileBases, lines, ri) {
  const out = [`// generated: package p${pi}, entry point`];
  for (const d of deps) out.push(`import { summary as dep_p${d} } from "@bench/p${d}";`);
  for (const b of fileBases.slice(0, -1)) out.push(`export * from "./${b}.js";`);
  out.push(
    ``,
    `export interface Summary { pkg: string; deps: string[]; score: number; }`,
    ``,
    `export function summary(): Summary {`,
    `  const deps: string[] = [${deps.map((d) => `dep_p${d}().pkg`).join(", ")}];`,
    `  const score: number = ${deps
      .map((d) => `dep_p${d}().score`)
      .concat([String(pi)])
      .join(" + ")};`,
    `  return { pkg: "@bench/p${pi}", deps, score };`,
    `}`,
    ``,
  );
  for (let k = 0; out.length < lines - 1; k++) out.push(`export const const_${k}: number = ${ri(0, 1e6)};`);
  out.push(`export const __rev_${pi}_index = 0; // bench edit marker`);
  return out.join("\n") + "\n";
}

function buildFile(i, deps, srcFiles, outFiles) {
  const q = (s) => JSON.stringify(s);
  return [
    `import { genrule } from "@hb/core";`,
    ``,
    `genrule({`,
    `  name: "build",`,
    `  srcs: [${srcFiles.map(q).join(", ")}],`,
    `  deps: [${deps.map((d) => q(`//packages/p${d}:build`)).join(", ")}],`,
    `  outs: [${outFiles.map(q).join(", ")}],`,
    `  cmd: "esbuild $(SRCS) --outdir=$(RULEDIR)/dist ${ESBUILD_FLAGS}",`,
    `  tools: ["//tools:esbuild"],`,
    `});`,
    ``,
  ].join("\n");
}

/**
 * Makes `dir` (a copy of a generated monorepo) a Bazel workspace of the same build, as
 * shared/peers/ does: per package a filegroup of its sources and one genrule running the same
 * esbuild command, its dependencies' outputs as inputs (so Bazel orders and invalidates as hb does).
 */
export function writeBazelFiles(dir, manifest) {
  const q = (s) => JSON.stringify(s);
  const write = (rel, text) => fs.writeFileSync(path.join(dir, rel), text);
  write("WORKSPACE", `workspace(name = "bench")\n`);
  write(".bazelignore", ["node_modules", ".hb", "hb-out", ""].join("\n"));
  write(".bazelrc", ["build --show_progress_rate_limit=5", "build --color=no --curses=no", ""].join("\n"));
  write("tools/BUILD", `exports_files(["bin/esbuild"], visibility = ["//visibility:public"])\n`);
  for (let i = 0; i < manifest.n; i++) {
    const deps = manifest.deps[i].map((d) => `, "//packages/p${d}:build"`).join("");
    write(
      `packages/p${i}/BUILD`,
      [
        `filegroup(name = "srcs", srcs = [${manifest.srcFiles.map(q).join(", ")}])`,
        `genrule(`,
        `    name = "build",`,
        `    srcs = [":srcs"${deps}],`,
        `    outs = [${manifest.outFiles.map(q).join(", ")}],`,
        `    cmd = "$(execpath //tools:bin/esbuild) $(locations :srcs) --outdir=$(RULEDIR)/dist ${ESBUILD_FLAGS}",`,
        `    tools = ["//tools:bin/esbuild"],`,
        `    visibility = ["//visibility:public"],`,
        `)`,
        ``,
      ].join("\n"),
    );
  }
}

/** Writes the monorepo into `out` (which must be empty unless `force`); returns the manifest. */
export function generate({ out, n = 200, f = 10, lines = 50, maxDeps = 3, seed = 1, esbuild = DEFAULT_ESBUILD, force = false }) {
  if (!(n >= 1 && f >= 1 && lines >= 10)) throw new Error("need n >= 1, f >= 1, lines >= 10");
  if (!fs.existsSync(esbuild)) throw new Error(`esbuild binary not found at ${esbuild} (run npm ci, or pass --esbuild)`);
  const OUT = path.resolve(out);
  if (fs.existsSync(OUT) && fs.readdirSync(OUT).length > 0) {
    if (!force) throw new Error(`${OUT} is not empty (use --force to wipe it)`);
    fs.rmSync(OUT, { recursive: true, force: true });
  }
  const write = (rel, text) => {
    const p = path.join(OUT, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  const rnd = prng(seed);
  const ri = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1)); // inclusive
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];

  // file names: m0..m(F-2) plus index (always last)
  const fileBases = [...Array(f - 1).keys()].map((k) => `m${k}`).concat(["index"]);
  const srcFiles = fileBases.map((b) => `src/${b}.ts`).sort();
  const outFiles = fileBases.map((b) => `dist/${b}.js`).sort();
  const deps = makeDag(n, maxDeps, ri);
  const dependents = Array.from({ length: n }, () => []);
  deps.forEach((ds, i) => ds.forEach((d) => dependents[d].push(i)));

  for (let i = 0; i < n; i++) {
    for (const b of fileBases) {
      write(`packages/p${i}/src/${b}.ts`, b === "index" ? tsIndex(i, deps[i], fileBases, lines, ri) : tsModule(i, b, lines, ri, pick));
    }
    write(`packages/p${i}/BUILD.ts`, buildFile(i, deps[i], srcFiles, outFiles));
  }
  write("hb.config.ts", "export default {};\n");
  write(".gitignore", ".hb/\nhb-out/\n");
  write("tools/BUILD.ts", `import { filegroup } from "@hb/core";\n\nfilegroup({ name: "esbuild", srcs: ["bin/esbuild"] });\n`);
  fs.mkdirSync(path.join(OUT, "tools/bin"));
  fs.copyFileSync(esbuild, path.join(OUT, "tools/bin/esbuild"));
  fs.chmodSync(path.join(OUT, "tools/bin/esbuild"), 0o755);

  const manifest = describe({ n, f, lines, maxDeps, seed, deps, dependents, fileBases, srcFiles, outFiles });
  write("bench.json", JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** The manifest: the DAG's shape and, for edit scenarios, a leaf / mid / root file with its marker. */
function describe({ n, f, lines, maxDeps, seed, deps, dependents, fileBases, srcFiles, outFiles }) {
  const transDependents = (i) => {
    const seen = new Set();
    const st = [i];
    while (st.length)
      for (const j of dependents[st.pop()])
        if (!seen.has(j)) {
          seen.add(j);
          st.push(j);
        }
    return seen.size;
  };
  const depth = new Array(n).fill(1);
  for (let i = 0; i < n; i++) for (const d of deps[i]) depth[i] = Math.max(depth[i], depth[d] + 1);
  let leaf = n - 1; // the highest-numbered package nothing depends on
  for (let i = n - 1; i >= 0; i--)
    if (dependents[i].length === 0) {
      leaf = i;
      break;
    }
  // mid: the package whose change cascades to the count closest to 10 (lowest index on ties)
  let mid = 0,
    midT = transDependents(0);
  for (let i = 1; i < n; i++) {
    const t = transDependents(i);
    if (Math.abs(t - 10) < Math.abs(midT - 10)) {
      mid = i;
      midT = t;
    }
  }
  const spot = (i) => ({
    package: `//packages/p${i}:build`,
    dir: `packages/p${i}`,
    file: `packages/p${i}/src/${fileBases[0]}.ts`,
    marker: `__rev_${i}_${fileBases[0]}`,
    index: i,
    directDependents: dependents[i].length,
    transitiveDependents: transDependents(i),
  });
  return {
    generator: "bench/gen-monorepo.mjs",
    seed,
    n,
    f,
    lines,
    maxDeps,
    files: n * f,
    edges: deps.reduce((s, d) => s + d.length, 0),
    maxDepth: Math.max(...depth),
    leaf: spot(leaf),
    mid: spot(mid),
    root: spot(0),
    command: `esbuild $(SRCS) --outdir=$(RULEDIR)/dist ${ESBUILD_FLAGS}`,
    srcFiles, // per package, relative to packages/pI/
    outFiles,
    dependents,
    deps: deps.map((d) => d.slice()),
  };
}

function parseArgs(argv) {
  const o = {};
  const num = { "--n": "n", "--f": "f", "--lines": "lines", "--max-deps": "maxDeps", "--seed": "seed" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    if (a in num) o[num[a]] = parseInt(v(), 10);
    else if (a === "--out") o.out = v();
    else if (a === "--esbuild") o.esbuild = v();
    else if (a === "--force") o.force = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.out) throw new Error("--out DIR is required");
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = generate(parseArgs(process.argv.slice(2)));
  console.log(`generated ${m.n} packages x ${m.f} files (${m.files} .ts files, ${m.edges} dep edges, max depth ${m.maxDepth})`);
}
