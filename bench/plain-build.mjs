// The cold-build floor: every package's genrule command, run bare (no sandbox, no cache, no
// hashing), each package after its dependencies, at most `jobs` at a time — what a
// hand-written script with the same parallelism would do. With `sandbox` (bwrap-prefix.ts),
// each command runs under bwrap as hb runs it, but without hb: what the sandbox itself costs.
import { spawn } from "node:child_process";
import { join } from "node:path";

/** The command hb runs for package i, with the same bash set-up line, writing under outDir. */
function command(manifest, i, outDir) {
  const srcs = manifest.srcFiles.map((s) => `packages/p${i}/${s}`);
  return `set -e -o pipefail\nesbuild ${srcs.join(" ")} --outdir=${outDir}/packages/p${i}/dist --format=esm --log-level=warning`;
}

function run(argv, cwd, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`plain build: exit ${code}: ${argv.join(" ")}\n${err}`))));
  });
}

/**
 * Only `packages` (listed in the manifest) are built; their outputs go to `outDir`. `sandbox`:
 * bwrap's command line up to "--" (the workspace at the execroot, `outDir` bound at hb-out).
 */
export function plainBuild({ root, manifest, outDir, jobs, packages = manifest.deps.map((_, i) => i), sandbox }) {
  const env = sandbox ? {} : { ...process.env, PATH: `${join(root, "tools/bin")}:${process.env.PATH}` };
  const argv = (i) => [...(sandbox ?? []), "/bin/bash", "-c", command(manifest, i, sandbox ? "hb-out" : outDir)];
  const wanted = new Set(packages);
  const left = new Map(packages.map((i) => [i, manifest.deps[i].filter((d) => wanted.has(d)).length]));
  const dependents = new Map(packages.map((i) => [i, []]));
  for (const i of packages) for (const d of manifest.deps[i]) if (wanted.has(d)) dependents.get(d).push(i);
  const ready = packages.filter((i) => left.get(i) === 0);
  let running = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const pump = () => {
      if (done === packages.length) return resolve();
      while (running < jobs && ready.length > 0) {
        const i = ready.shift();
        running++;
        run(argv(i), root, env).then(() => {
          running--;
          done++;
          for (const j of dependents.get(i)) {
            left.set(j, left.get(j) - 1);
            if (left.get(j) === 0) ready.push(j);
          }
          pump();
        }, reject);
      }
    };
    pump();
  });
}
