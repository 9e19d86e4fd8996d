import { describe, expect, it } from "vitest";
import type { ActionSpec, RunAction, WriteAction } from "../base/graph";
import { keyMaterial, type KeySettings } from "./key-material";
import { ACTION_SEMANTICS_VERSION, type KeyedFile, actionKey, encodeActionKeyMaterial } from "./action-key";

const H = (c: string) => c.repeat(64);

const action: RunAction = {
  id: 3,
  owner: "//pkg:gen",
  mnemonic: "Genrule",
  kind: "run",
  argv: ["/bin/bash", "-c", "cat in.txt > $@"],
  env: { FOO: "1" },
  inputs: ["pkg/in.txt"],
  tools: ["tools/t.sh"],
  toolchains: [{ label: "", path: "/bin/bash", sha256: "" }],
  outputs: ["hb-out/pkg/out.txt"],
  outputDirs: [],
  stamp: false,
  tags: [],
  progress: "Executing genrule //pkg:gen",
};
const inputs: KeyedFile[] = [{ path: "pkg/in.txt", hash: H("a"), size: 3, executable: false }];
const tools: KeyedFile[] = [{ path: "tools/t.sh", hash: H("b"), size: 9, executable: true }];
const toolchains: KeyedFile[] = [{ path: "/bin/bash", hash: H("7"), size: 100, executable: true }];
const settings: KeySettings = {
  mode: "default",
  sourceDateEpoch: 315532800,
  execroot: "/hb/execroot",
  home: "/hb/home",
  tmpdir: "/tmp",
  hostFingerprint: () => H("c"),
};
const key = (a: ActionSpec = action, i = inputs, t = tools, s = settings, tc = toolchains) => actionKey(keyMaterial(a, i, t, tc, s));
const base = key();

describe("action key", () => {
  it("is a sha256 of a versioned encoding", () => {
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(encodeActionKeyMaterial(keyMaterial(action, inputs, tools, toolchains, settings))).toContain(
      `"hb-action-key",${ACTION_SEMANTICS_VERSION}`,
    );
  });

  it.each<[string, () => string]>([
    ["argv", () => key({ ...action, argv: [...action.argv, "x"] })],
    ["a declared env value", () => key({ ...action, env: { FOO: "2" } })],
    ["a declared env name", () => key({ ...action, env: { FOO: "1", BAR: "" } })],
    ["SOURCE_DATE_EPOCH", () => key(action, inputs, tools, { ...settings, sourceDateEpoch: 1 })],
    ["an input's path", () => key(action, [{ ...inputs[0]!, path: "pkg/other.txt" }])],
    ["an input's digest", () => key(action, [{ ...inputs[0]!, hash: H("d") }])],
    ["an input's size", () => key(action, [{ ...inputs[0]!, size: 4 }])],
    ["an input's executable bit", () => key(action, [{ ...inputs[0]!, executable: true }])],
    ["an added input", () => key(action, [...inputs, { path: "pkg/b", hash: H("e"), size: 0, executable: false }])],
    ["an output path", () => key({ ...action, outputs: ["hb-out/pkg/other.txt"] })],
    ["an output directory", () => key({ ...action, outputDirs: ["hb-out/pkg/d"] })],
    ["a tool's digest", () => key(action, inputs, [{ ...tools[0]!, hash: H("f") }])],
    ["a tool's path (PATH changes too)", () => key({ ...action, tools: ["bin/t.sh"] }, inputs, [{ ...tools[0]!, path: "bin/t.sh" }])],
    ["the sandbox mode", () => key(action, inputs, tools, { ...settings, mode: "none" })],
    ["a toolchain's digest (genrule's shell)", () => key(action, inputs, tools, settings, [{ ...toolchains[0]!, hash: H("8") }])],
    ["the host fingerprint", () => key(action, inputs, tools, { ...settings, hostFingerprint: () => H("9") })],
    ["a target's platform property", () => key({ ...action, execProperties: { "container-image": "docker://node:20" } })],
    ["a platform property of hb.config.ts", () => key(action, inputs, tools, { ...settings, execProperties: { OSFamily: "linux" } })],
    [
      "a platform property's value, where the target's stands over hb.config.ts's",
      () => key({ ...action, execProperties: { pool: "big" } }, inputs, tools, { ...settings, execProperties: { pool: "small" } }),
    ],
    [
      "the stamp of a stamped action",
      () => key({ ...action, stamp: true }, inputs, tools, { ...settings, stamp: { commit: H("1").slice(0, 40), time: 5 } }),
    ],
  ])("changes with %s", (_what, variant) => {
    expect(variant()).not.toBe(base);
  });

  it.each<[string, () => string]>([
    ["the owning label", () => key({ ...action, owner: "//elsewhere:other" })],
    ["the mnemonic and progress message", () => key({ ...action, mnemonic: "X", progress: "doing things" })],
    ["the action's index in the graph", () => key({ ...action, id: 99 })],
    ["tags", () => key({ ...action, tags: ["manual"] })],
    [
      "the order inputs are listed in",
      () => {
        const two = [...inputs, { path: "pkg/b", hash: H("e"), size: 0, executable: false }];
        return key(action, [...two].reverse()) === key(action, two) ? base : "differs";
      },
    ],
    ["a stamp, for an unstamped action", () => key(action, inputs, tools, { ...settings, stamp: { commit: "x", time: 5 } })],
    // so keys made before platform properties existed still match
    [
      "no platform properties given as empty ones",
      () => key({ ...action, execProperties: {} }, inputs, tools, { ...settings, execProperties: {} }),
    ],
  ])("does not change with %s", (_what, variant) => {
    expect(variant()).toBe(base);
  });

  it("takes a target's platform properties over hb.config.ts's, in any order written", () => {
    const config = { ...settings, execProperties: { pool: "small", OSFamily: "linux" } };
    const overridden = key({ ...action, execProperties: { pool: "big" } }, inputs, tools, config);
    expect(overridden).toBe(key(action, inputs, tools, { ...settings, execProperties: { OSFamily: "linux", pool: "big" } }));
    expect(overridden).not.toBe(key(action, inputs, tools, config));
  });

  it("leaves the host fingerprint out in strict mode, so hits are portable", () => {
    const strict = { ...settings, mode: "strict" as const };
    expect(key(action, inputs, tools, { ...strict, hostFingerprint: () => H("1") })).toBe(
      key(action, inputs, tools, { ...strict, hostFingerprint: () => H("2") }),
    );
  });

  it("keys a write action by content, executable bit and path", () => {
    const { argv: _argv, env: _env, ...common } = action;
    const w: WriteAction = { ...common, kind: "write", content: "hello", executable: false, outputs: ["hb-out/pkg/w.txt"] };
    const k = key(w, [], []);
    expect(key({ ...w, content: "hello!" }, [], [])).not.toBe(k);
    expect(key({ ...w, executable: true }, [], [])).not.toBe(k);
    expect(key({ ...w, owner: "//x:y" }, [], [], { ...settings, mode: "none" })).toBe(k);
  });
});
