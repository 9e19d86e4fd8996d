// bwrap-prefix.ts — the command line hb runs a genrule's bash under, for the cold build's
// "plain loop in bwrap" floor: bwrap with hb's own flags, system binds, fixed /etc files and
// determinism env (PATH: the tools' directory, then bash's, then the system's), the
// workspace itself bound read-only at the execroot (no staging) and the loop's outputs
// directory bound writable at hb-out. What separates that floor from hb is hb's own work.
//
// Usage (bundled by bench/scenarios.mjs): node bwrap-prefix.mjs --workspace DIR --out DIR --etc DIR
// Prints a JSON array: bwrap's path, then its arguments up to and including "--".

import {
  DEFAULT_SOURCE_DATE_EPOCH,
  EXECROOT,
  OUT_DIR,
  SANDBOX_HOME,
  SYSTEM_PATH,
  bwrapArgs,
  determinismEnv,
  findBwrap,
  writeSandboxEtc,
} from "@hb/core/engine";

function option(argv: string[], name: string): string {
  const i = argv.indexOf(name);
  if (i < 0 || !argv[i + 1]) throw new Error(`${name} DIR is required`);
  return argv[i + 1]!;
}

const argv = process.argv.slice(2);
const etcDir = option(argv, "--etc");
writeSandboxEtc(etcDir);
const path = [...new Set([`${EXECROOT}/tools/bin`, "/bin", ...SYSTEM_PATH.split(":")])].join(":");
const args = bwrapArgs({
  execroot: option(argv, "--workspace"),
  outDir: option(argv, "--out"),
  writableAt: OUT_DIR,
  env: determinismEnv({ sourceDateEpoch: DEFAULT_SOURCE_DATE_EPOCH, path, home: SANDBOX_HOME, tmpdir: "/tmp" }),
  etcDir,
  network: false,
});
process.stdout.write(JSON.stringify([findBwrap(), ...args, "--"]) + "\n");
