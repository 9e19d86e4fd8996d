import { describe, expect, it } from "vitest";
import { sha256Hex } from "../base/digest";
import {
  type ActionOutputs,
  actionOutputs,
  byproductDescriptors,
  firstDifferingAction,
  outputsDigest,
  readActionOutputs,
} from "./byproducts";
import { HB_BUILD_TYPE, HB_REBUILD_TYPE, buildProvenanceStatement } from "./statement";
import { sampleInput } from "./testing";

const h = (c: string) => c.repeat(64);

function action(label: string, outputs: Record<string, string>, key = h("9")): ActionOutputs {
  const files = Object.entries(outputs).map(([path, sha256]) => ({ path, sha256, executable: false }));
  return actionOutputs({ owner: label, mnemonic: "Genrule", outputs: Object.keys(outputs), outputDirs: [] }, key, files, "default");
}

describe("outputsDigest", () => {
  it("is the sha256 of the sorted [path, sha256, executable] rows, so order does not matter but a mode does", () => {
    const a = { path: "hb-out/x/a", sha256: h("a"), executable: false };
    const b = { path: "hb-out/x/b", sha256: h("b"), executable: true };
    expect(outputsDigest([b, a])).toBe(
      sha256Hex(
        JSON.stringify([
          ["hb-out/x/a", h("a"), false],
          ["hb-out/x/b", h("b"), true],
        ]),
      ),
    );
    expect(outputsDigest([a, b])).toBe(outputsDigest([b, a]));
    expect(outputsDigest([a, { ...b, executable: false }])).not.toBe(outputsDigest([a, b]));
  });
});

describe("actionOutputs", () => {
  it("lists declared files by digest and a declared directory by the digest of the files under it", () => {
    const files = [
      { path: "hb-out/x/out.txt", sha256: h("1"), executable: false },
      { path: "hb-out/x/tree/a.js", sha256: h("2"), executable: false },
      { path: "hb-out/x/tree/b/c.js", sha256: h("3"), executable: true },
    ];
    const a = actionOutputs(
      { owner: "//x:t", mnemonic: "Genrule", outputs: ["hb-out/x/out.txt"], outputDirs: ["hb-out/x/tree"] },
      h("9"),
      files,
      "strict",
    );
    expect(a).toEqual({
      label: "//x:t",
      mnemonic: "Genrule",
      actionKey: h("9"),
      sandbox: "strict",
      outputs: [
        { path: "hb-out/x/out.txt", sha256: h("1") },
        { path: "hb-out/x/tree/", sha256: outputsDigest(files.slice(1)) },
      ],
      digest: outputsDigest(files),
    });
  });
});

describe("byproducts in a statement", () => {
  it("records each action in the order given, and reads back what it wrote", () => {
    const actions = [action("//x:gen", { "hb-out/x/gen.txt": h("1") }), action("//x:pkg", { "hb-out/x/pkg.tgz": h("2") })];
    const s = buildProvenanceStatement(sampleInput({ actions }));
    expect(s.predicate.buildDefinition.buildType).toBe(HB_BUILD_TYPE);
    expect(s.predicate.runDetails.byproducts).toEqual(byproductDescriptors(actions));
    expect(s.predicate.runDetails.byproducts![0]).toEqual({
      name: "//x:gen",
      digest: { sha256: actions[0]!.digest },
      annotations: {
        hb_kind: "action",
        hb_mnemonic: "Genrule",
        hb_action_key: h("9"),
        hb_sandbox: "default",
        hb_outputs: { "hb-out/x/gen.txt": h("1") },
      },
    });
    expect(readActionOutputs(JSON.parse(JSON.stringify(s.predicate.runDetails.byproducts)))).toEqual(actions);
  });

  it("marks a rebuild by its buildType, how many runs it compared, and that they agreed", () => {
    const s = buildProvenanceStatement(sampleInput({ rebuild: { runs: 3 } }));
    expect(s.predicate.buildDefinition.buildType).toBe(HB_REBUILD_TYPE);
    expect(s.predicate.buildDefinition.internalParameters).toMatchObject({ runs: 3, runsAgreed: true });
  });

  it("passes over descriptors that are not hb action records", () => {
    const good = byproductDescriptors([action("//x:gen", { "hb-out/x/gen.txt": h("1") })])[0]!;
    const noisy = [
      { name: "log.txt", digest: { sha256: h("f") } },
      { ...good, annotations: { ...good.annotations, hb_outputs: { "hb-out/x/gen.txt": 7 } } },
      "not an object",
      good,
    ];
    expect(readActionOutputs(noisy).map((a) => a.label)).toEqual(["//x:gen"]);
    expect(readActionOutputs({ not: "an array" })).toEqual([]);
  });
});

describe("firstDifferingAction", () => {
  const ours = [
    action("//x:gen", { "hb-out/x/gen.txt": h("1") }),
    action("//x:host", { "hb-out/x/host.txt": h("2") }),
    action("//x:pkg", { "hb-out/x/pkg.tgz": h("3") }),
  ];

  it("names the first action in dependency order whose outputs differ, not the ones downstream of it", () => {
    const theirs = [
      action("//x:pkg", { "hb-out/x/pkg.tgz": h("c") }),
      action("//x:host", { "hb-out/x/host.txt": h("b") }),
      action("//x:gen", { "hb-out/x/gen.txt": h("1") }),
    ];
    expect(firstDifferingAction(ours, theirs)).toEqual({
      label: "//x:host",
      mnemonic: "Genrule",
      outputs: [{ path: "hb-out/x/host.txt", ours: h("2"), theirs: h("b") }],
      sameKey: true,
    });
  });

  it("says when the action keys differ too, and finds nothing when every shared action agrees", () => {
    const theirs = [action("//x:host", { "hb-out/x/host.txt": h("b") }, h("8"))];
    expect(firstDifferingAction(ours, theirs)).toMatchObject({ label: "//x:host", sameKey: false });
    expect(firstDifferingAction(ours, [ours[0]!, ours[2]!])).toBeUndefined();
  });
});
