// A full disk: the output base on a small tmpfs (mounted in a user and mount namespace of its
// own, so no root is needed) that fills up mid-build. The build fails saying which disk, exit 1,
// no stack trace; once space is freed the next build is correct and the CAS whole.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HB, makeWorkspace, tempDir } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';

/**
 * Inside a new user and mount namespace: a tmpfs of 16 MiB at `mount` (a whole build takes some 8 MiB), all but `freeKiB` of it
 * taken by a filler file; a build; the filler removed; a build again; then every CAS blob
 * checked against its name (the tmpfs is gone once the namespace ends).
 */
const SCRIPT = String.raw`
set -u
mount=$1; free_kib=$2; ws=$3; hb=$4; out=$5
mount -t tmpfs -o size=16m tmpfs "$mount" || exit 90
head -c $((16 * 1024 * 1024 - free_kib * 1024)) /dev/zero > "$mount/filler" 2>/dev/null
cd "$ws"
node "$hb" build //... --jobs 2 --output-base "$mount/base" > "$out/first.log" 2>&1; echo $? > "$out/first.exit"
rm "$mount/filler"
node "$hb" build //... --jobs 2 --output-base "$mount/base" --report "$out/report.json" > "$out/second.log" 2>&1; echo $? > "$out/second.exit"
for f in "$mount"/base/cas/??/*; do
  [ "$(sha256sum < "$f" | cut -c1-64)" = "$(basename "$f" .x)" ] || echo "$f" >> "$out/corrupt"
done
touch "$out/corrupt"
`;

function files(bigOutputs: number): Record<string, string> {
  let big = G;
  for (let i = 0; i < bigOutputs; i++) big += `genrule({ name: "big${i}", outs: ["big${i}.out"], cmd: "seq 1 ${200_000 + i} > $@" });\n`;
  let small = G;
  for (let i = 0; i < 120; i++) small += `genrule({ name: "s${i}", outs: ["s${i}.out"], cmd: "seq 1 ${100 + i} > $@" });\n`;
  return { "big/BUILD.ts": big, "small/BUILD.ts": small };
}

const seq = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("");
const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

describe("a full disk under the output base", () => {
  // big outputs fill the disk while an action writes (its tool fails); small ones leave the
  // actions room, but not hb's own records (SQLite fails)
  it.each([
    ["an action's output", 4, 2048, /is full, where its outputs are written/],
    ["hb's own records", 0, 300, /is full: hb could not (record this build's results in|write) its output base/],
  ])("filled by %s: a clear error naming the disk, exit 1; after space is freed, a correct build", (_what, bigOutputs, freeKiB, how) => {
    const ws = makeWorkspace(files(bigOutputs));
    const out = tempDir();
    const mount = tempDir();
    writeFileSync(join(out, "script.sh"), SCRIPT);
    execFileSync("unshare", ["--user", "--map-root-user", "--mount", "sh", join(out, "script.sh"), mount, String(freeKiB), ws, HB, out], {
      stdio: "inherit",
    });
    const first = readFileSync(join(out, "first.log"), "utf8");
    expect(readFileSync(join(out, "first.exit"), "utf8").trim(), first).toBe("1");
    expect(first).toMatch(new RegExp(`ERROR: .*the disk at ${mount} \\(tmpfs, [\\d.]+ (bytes|KiB) free of 16\\.0 MiB\\) is full`));
    expect(first).toMatch(how);
    expect(first).toContain("hint: free space on that disk");
    expect(first).not.toMatch(/\n\s+at |internal error/);

    const second = readFileSync(join(out, "second.log"), "utf8");
    expect(readFileSync(join(out, "second.exit"), "utf8").trim(), second).toBe("0");
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.failed).toBe(0);
    for (let i = 0; i < bigOutputs; i++) expect(sha256(readFileSync(join(ws, `hb-out/big/big${i}.out`)))).toBe(sha256(seq(200_000 + i)));
    for (let i = 0; i < 120; i++) expect(readFileSync(join(ws, `hb-out/small/s${i}.out`), "utf8")).toBe(seq(100 + i));
    expect(readFileSync(join(out, "corrupt"), "utf8")).toBe("");
  });
});
