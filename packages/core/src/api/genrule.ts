import { expandMakeVariables } from "./make-variables";
import { OUT_DIR } from "../base/graph";
import { canonicalLabel } from "../base/label";
import { attr } from "./attrs";
import type { File, TargetRef } from "./file";
import { rule } from "./rule";
import { GENRULE_COREUTILS, GENRULE_SHELL, MAX_ARG_BYTES, SHELL_SETUP } from "./shell";
import { type Toolchain, toolchainOf } from "./toolchain";

/**
 * Bazel's genrule: a shell command from `srcs` (and `deps`) to `outs`, with `tools` on PATH and
 * make variables ($(SRCS) $(OUTS) $(location x) $(RULEDIR) $@ $< $$) expanded. It runs in bash,
 * with the usual coreutils (GENRULE_COREUTILS), strict mode too.
 */
export const genrule = rule({
  kind: "genrule",
  attrs: {
    srcs: attr.labelList({ doc: "input files, listed in $(SRCS)" }),
    outs: attr.outputList({ mandatory: true, doc: "files the command writes, relative to the package" }),
    cmd: attr.string({ mandatory: true, doc: "bash command" }),
    tools: attr.labelList({ doc: "programs the command runs; their directories lead PATH" }),
    deps: attr.labelList({ doc: "targets whose outputs the command reads, not listed in $(SRCS)" }),
    stamp: attr.bool({ doc: "with --stamp, give the command the commit time and id" }),
    executable: attr.bool({ doc: "the single output is a program (hb run)" }),
    message: attr.string({ doc: "progress message" }),
  },
  impl(ctx) {
    const srcs = ctx.files("srcs");
    const outs = ctx.attr.outs;
    const toolchains = [
      ...ctx.attr.tools.map(toolchainOf).filter((t): t is Toolchain => t !== undefined),
      ...GENRULE_COREUTILS.map((path) => ({ label: "", path, sha256: "" })),
    ];
    const toolFiles = ctx.attr.tools.filter((t) => !toolchainOf(t)).flatMap((t) => [...t.files, ...t.runfiles]);
    const depFiles = ctx.attr.deps.flatMap((t) => [...t.files, ...t.runfiles]);
    const byLabel = new Map<string, readonly string[]>();
    const add = (refs: readonly TargetRef[]) => {
      for (const r of refs) {
        const tc = toolchainOf(r);
        byLabel.set(r.label, tc ? [tc.path] : (r.executable && r.files.length !== 1 ? [r.executable] : r.files).map((f) => f.path));
      }
    };
    add(ctx.attr.srcs);
    add(ctx.attr.deps);
    add(ctx.attr.tools);
    for (const o of outs) byLabel.set(o.label, [o.path]);
    const ruleDir = `${OUT_DIR}/${ctx.pkg}`.replace(/\/$/, "");
    const cmd = expandMakeVariables(ctx.attr.cmd ?? "", {
      vars: {
        SRCS: srcs.map((f) => f.path).join(" "),
        OUTS: outs.map((f) => f.path).join(" "),
        RULEDIR: ruleDir,
        "@D": outs.length === 1 ? outs[0]!.path.slice(0, outs[0]!.path.lastIndexOf("/")) : ruleDir,
        BINDIR: OUT_DIR,
        GENDIR: OUT_DIR,
      },
      locations: (text) => {
        let label: string;
        try {
          label = canonicalLabel(text, ctx.pkg);
        } catch {
          return undefined;
        }
        return byLabel.get(label);
      },
      outs: outs.map((f) => f.path),
      srcs: srcs.map((f) => f.path),
      label: ctx.label,
      attribute: "cmd",
    });
    // a command over the kernel's limit for one argument ($(SRCS) of 8,000 files) cannot be
    // bash's -c: it goes to a script file bash reads, as Bazel's genrule does; others stay on the
    // command line, so their action keys do not change
    let script: File | undefined;
    if (Buffer.byteLength(SHELL_SETUP + cmd) + 1 > MAX_ARG_BYTES) {
      script = ctx.declareFile(`${ctx.name}.genrule_script.sh`);
      ctx.actions.write({ output: script, content: SHELL_SETUP + cmd });
    }
    ctx.actions.run({
      executable: GENRULE_SHELL,
      arguments: script ? [script.path] : ["-c", cmd],
      inputs: [...srcs, ...depFiles, ...(script ? [script] : [])],
      tools: toolFiles,
      toolchains,
      outputs: outs,
      mnemonic: "Genrule",
      progressMessage: ctx.attr.message ? `${ctx.attr.message} ${ctx.label}` : `Executing genrule ${ctx.label}`,
      stamp: ctx.attr.stamp,
    });
    return { files: outs, executable: ctx.attr.executable ? outs[0] : undefined };
  },
});
