import { describe, expect, it } from "vitest";
import { type MakeVariableContext, expandMakeVariables } from "./make-variables";

const ctx: MakeVariableContext = {
  vars: { SRCS: "p/a.txt p/b.txt", OUTS: "hb-out/p/o.txt", RULEDIR: "hb-out/p" },
  locations: (l) => (l === "//p:a.txt" || l === "a.txt" ? ["p/a.txt"] : l === ":both" ? ["p/a.txt", "p/b.txt"] : undefined),
  outs: ["hb-out/p/o.txt"],
  srcs: ["p/a.txt"],
  label: "//p:g",
  attribute: "cmd",
};

describe("expandMakeVariables", () => {
  it("expands Bazel's genrule variables", () => {
    expect(expandMakeVariables("cat $(SRCS) > $(OUTS)", ctx)).toBe("cat p/a.txt p/b.txt > hb-out/p/o.txt");
    expect(expandMakeVariables("cp $< $@ && ls $(RULEDIR)", ctx)).toBe("cp p/a.txt hb-out/p/o.txt && ls hb-out/p");
    expect(expandMakeVariables("x $(location a.txt) $(locations :both) $(execpath //p:a.txt)", ctx)).toBe(
      "x p/a.txt p/a.txt p/b.txt p/a.txt",
    );
  });

  it("turns $$ into $", () => {
    expect(expandMakeVariables("echo $$HOME $$(date) $${X:-y}", ctx)).toBe("echo $HOME $(date) ${X:-y}");
  });

  it.each([
    ["$(NOPE)", "unknown make variable $(NOPE)"],
    ["$HOME", "'$H' is not a make variable"],
    ["$(location :nothing)", "is not in srcs, outs, tools or deps"],
    ["$(location :both)", "expands to 2 files, not one"],
    ["$(SRCS", "unterminated"],
  ])("refuses %s with a message naming the target", (cmd, why) => {
    expect(() => expandMakeVariables(cmd, ctx)).toThrow(why);
    expect(() => expandMakeVariables(cmd, ctx)).toThrow("//p:g");
  });

  it("refuses $@ with several outputs and $< with several sources", () => {
    expect(() => expandMakeVariables("$@", { ...ctx, outs: ["a", "b"] })).toThrow("exactly one output");
    expect(() => expandMakeVariables("$<", { ...ctx, srcs: [] })).toThrow("exactly one source");
  });
});
