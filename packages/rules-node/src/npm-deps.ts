import { attr, rule } from "@hb/core";

// Runs the install scripts of the named packages in a copy of the extracted tree. It is the
// command of a sandboxed action: no network, only the tree and node.
const RUN_SCRIPTS = `"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const [from, to, ...names] = process.argv.slice(2);
fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true });
const writable = (p) => {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  fs.chmodSync(p, st.mode | 0o200);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) writable(path.join(p, e));
};
writable(to);
const wanted = new Set(names);
const packages = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir).sort()) {
    if (e === ".bin") continue;
    const p = path.join(dir, e);
    if (e.startsWith("@")) { walk(p); continue; }
    let manifest;
    try { manifest = JSON.parse(fs.readFileSync(path.join(p, "package.json"), "utf8")); } catch { continue; }
    if (wanted.has(manifest.name)) packages.push([p, manifest]);
    if (fs.existsSync(path.join(p, "node_modules"))) walk(path.join(p, "node_modules"));
  }
};
walk(to);
for (const [dir, manifest] of packages) {
  for (const stage of ["preinstall", "install", "postinstall"]) {
    const script = (manifest.scripts || {})[stage];
    if (!script) continue;
    process.stderr.write(manifest.name + ": " + stage + ": " + script + "\\n");
    execFileSync("/bin/bash", ["-c", script], {
      cwd: dir,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, PATH: path.join(to, ".bin") + ":" + process.env.PATH, npm_package_name: manifest.name, npm_package_version: manifest.version, npm_lifecycle_event: stage },
    });
  }
}
`;

/**
 * The node_modules of this package, from a lockfile in it or above it (package-lock.json v2/v3,
 * pnpm-lock.yaml, yarn.lock of yarn 2 and later): the entries the lockfile has for this package's directory (the root's
 * node_modules/..., a workspace package's packages/x/node_modules/..., pnpm's importer), with
 * workspace links, laid out as the package manager would, so that the merged view shows it
 * where this package's sources resolve imports (`<package>/node_modules`). Optional packages for
 * another os, cpu or libc are left out, as npm does. Tarballs are fetched by `hb fetch` / the
 * fetch step of `hb build`, checked against the lockfile's integrity (one without is pinned on
 * first fetch into hb.lock.json), and extracted as a cached action output, each file stored
 * once. Install scripts run only for the packages named in `run_scripts`, as a sandboxed action
 * without network. A target that runs code importing npm packages lists the trees it needs in
 * its deps (with pnpm, the root's, which holds the store, and its own package's).
 */
export const npm_deps = rule({
  kind: "npm_deps",
  attrs: {
    lockfile: attr.label({
      default: "package-lock.json",
      doc: "package-lock.json, pnpm-lock.yaml or yarn.lock, of this package or a directory above it (//:pnpm-lock.yaml)",
    }),
    run_scripts: attr.stringList({ doc: "packages whose preinstall/install/postinstall scripts run (sandboxed, no network)" }),
  },
  impl(ctx) {
    const [lockfile, ...more] = ctx.files("lockfile");
    if (!lockfile || more.length > 0) throw new Error(`npm_deps ${ctx.label}: 'lockfile' must be one file`);
    const names = [...new Set(ctx.attr.run_scripts)].sort();
    if (names.length === 0) {
      const out = ctx.declareDirectory("node_modules");
      ctx.actions.npmInstall({ lockfile, output: out });
      return { files: [out], npmDeps: { nodeModules: out.path } };
    }
    const extracted = ctx.declareDirectory(`_${ctx.name}_extracted/node_modules`);
    ctx.actions.npmInstall({ lockfile, output: extracted });
    const script = ctx.declareFile(`_${ctx.name}_run_scripts.js`);
    ctx.actions.write({ output: script, content: RUN_SCRIPTS });
    const out = ctx.declareDirectory("node_modules");
    ctx.actions.run({
      executable: "/usr/bin/node",
      arguments: [script.path, extracted.path, out.path, ...names],
      inputs: [extracted, script],
      outputs: [out],
      mnemonic: "NpmScripts",
      progressMessage: `Running install scripts of ${names.join(", ")} for ${ctx.label}`,
    });
    return { files: [out], npmDeps: { nodeModules: out.path } };
  },
});
