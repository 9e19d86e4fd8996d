import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../base/digest";
import { tmpfsDir } from "./tmpfs";
import { type InputToStage, SandboxStaging } from "./sandbox-staging";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-staging-"));
  mkdirSync(join(dir, "ws/a/src"), { recursive: true });
  writeFileSync(join(dir, "ws/a/src/x.ts"), "x\n");
  writeFileSync(join(dir, "ws/a/src/y.ts"), "y\n");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const inputs = (): InputToStage[] =>
  ["x", "y"].map((n) => ({
    path: `a/src/${n}.ts`,
    source: join(dir, `ws/a/src/${n}.ts`),
    hash: sha256Hex(`${n}\n`),
    executable: false,
    isSource: true,
  }));

describe.runIf(tmpfsDir() !== undefined)("SandboxStaging on a tmpfs", () => {
  it("stages inputs as dated read-only copies and removes the sandbox by the names it staged", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    const staged = staging.stage("s1", inputs(), "hb-out/a", ["dist"], false);
    const x = join(staged.rootDir, "a/src/x.ts");
    expect(readFileSync(x, "utf8")).toBe("x\n");
    expect(statSync(x).mtimeMs).toBe(315532800_000);
    expect(statSync(join(staged.rootDir, "hb-out/a")).isDirectory()).toBe(true);
    expect(staged.layout?.files).toHaveLength(2);
    staging.discard(staged);
    expect(existsSync(staged.sandboxDir)).toBe(false);
    await staging.close();
    expect(existsSync(staging.root)).toBe(false);
  });

  it("refuses a source whose bytes no longer match the digest it was keyed by (edited during the build)", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    const [x] = inputs();
    const keyed = x!;
    writeFileSync(x!.source, "EVIL\n");
    expect(() => staging.stage("s4", [keyed], "hb-out/a", [], false)).toThrow(/a\/src\/x\.ts changed during the build/);
    // nothing left to stand for the digest in a later sandbox
    expect(readdirSync(join(staging.root, "inputs"))).toEqual([]);
    writeFileSync(x!.source, "x\n");
    const staged = staging.stage("s5", [keyed], "hb-out/a", [], false);
    expect(readFileSync(join(staged.rootDir, "a/src/x.ts"), "utf8")).toBe("x\n");
    staging.discard(staged);
    await staging.close();
  });

  it("hands an outputs directory on to the next action holding only that action's directories, empty", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    const first = staging.stage("one", inputs(), "hb-out/a", ["dist"], false);
    writeFileSync(join(first.outDir, "dist/out.js"), "secret\n");
    writeFileSync(join(first.outDir, "undeclared"), "secret\n");
    mkdirSync(join(first.outDir, "extra/deep"), { recursive: true });
    writeFileSync(join(first.outDir, "extra/deep/f"), "secret\n");
    staging.discard(first);
    const second = staging.stage("two", inputs(), "hb-out/b", ["lib"], false);
    expect(second.outDir).toBe(first.outDir);
    expect(readdirSync(second.outDir)).toEqual(["lib"]);
    expect(readdirSync(join(second.outDir, "lib"))).toEqual([]);
    // one in use is never handed out twice
    const third = staging.stage("three", inputs(), "hb-out/c", [], false);
    expect(third.outDir).not.toBe(second.outDir);
    staging.discard(second);
    staging.discard(third);
    await staging.close();
  });

  it("never hands on an outputs directory it cannot clear, nor one an action made read-only as it was", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    const first = staging.stage("one", inputs(), "hb-out/a", ["dist"], false);
    writeFileSync(join(first.outDir, "secret"), "secret\n");
    // deeper than a path can name: Node's recursive rm and readdir fail on it
    execFileSync("bash", [
      "-c",
      'n=$(printf "a%.0s" $(seq 1 250)); cd "$1" && for i in $(seq 1 20); do mkdir $n && cd $n; done && echo bottom > f',
      "-",
      first.outDir,
    ]);
    chmodSync(join(first.outDir, "dist"), 0o555);
    staging.discard(first);
    const second = staging.stage("two", inputs(), "hb-out/b", ["dist"], false);
    expect(readdirSync(second.outDir)).toEqual(["dist"]);
    expect(statSync(join(second.outDir, "dist")).mode & 0o777).toBe(0o755);
    staging.discard(second);
    const third = staging.stage("three", inputs(), "hb-out/c", ["dist"], false);
    chmodSync(join(third.outDir, "dist"), 0o555);
    staging.discard(third);
    const fourth = staging.stage("four", inputs(), "hb-out/d", ["dist"], false);
    expect(statSync(join(fourth.outDir, "dist")).mode & 0o777).toBe(0o755);
    staging.discard(fourth);
    await staging.close();
    // the tree set aside is gone once the build ends
    expect(readdirSync(join(dir, "base/sandbox")).filter((n) => n.includes("trash"))).toEqual([]);
  });

  it("removes the per-action outputs directories an older hb kept", async () => {
    mkdirSync(join(dir, "base/sandbox/out/0123456789abcdef/dist"), { recursive: true });
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    staging.discard(staging.stage("one", inputs(), "hb-out/a", ["dist"], false));
    await staging.close();
    expect(readdirSync(join(dir, "base/sandbox/out"))).toEqual(["0"]);
  });

  it("stages nothing once closed: the tmpfs directory stays removed", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    staging.discard(staging.stage("one", inputs(), "hb-out/a", [], false));
    await staging.close();
    expect(() => staging.stage("late", inputs(), "hb-out/a", [], false)).toThrow(/after its build ended/);
    expect(existsSync(staging.root)).toBe(false);
  });

  it("still removes a sandbox holding more than it staged (an audit log)", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    const staged = staging.stage("s2", inputs(), "hb-out/a", [], false);
    mkdirSync(join(staged.sandboxDir, "audit"));
    writeFileSync(join(staged.sandboxDir, "audit/trace.1"), "open\n");
    staging.discard(staged);
    expect(existsSync(staged.sandboxDir)).toBe(false);
    await staging.close();
  });
});

describe("SandboxStaging without a sandbox", () => {
  it("copies sources, never hardlinks them: the action cannot write to one, and its ctime stays", async () => {
    const staging = new SandboxStaging({ fallback: join(dir, "base/sandbox"), epoch: 315532800, reverse: false });
    const source = join(dir, "ws/a/src/x.ts");
    const before = statSync(source);
    const staged = staging.stage("s3", inputs(), "hb-out/a", [], true);
    const x = join(staged.rootDir, "a/src/x.ts");
    expect(readFileSync(x, "utf8")).toBe("x\n");
    expect(statSync(x).ino).not.toBe(before.ino);
    expect(statSync(source).ctimeMs).toBe(before.ctimeMs);
    staging.discard(staged);
    await staging.close();
    expect(existsSync(staged.sandboxDir)).toBe(false);
  });
});
