import { attr } from "./attrs";
import { rule } from "./rule";

/** Bazel's filegroup: names a set of files (sources or outputs of other targets). */
export const filegroup = rule({
  kind: "filegroup",
  attrs: {
    srcs: attr.labelList({ doc: "the files of the group" }),
    data: attr.labelList({ doc: "files needed at run time by whoever uses the group" }),
  },
  impl(ctx) {
    return {
      files: ctx.files("srcs"),
      runfiles: [...ctx.files("data"), ...ctx.attr.srcs.flatMap((t) => t.runfiles), ...ctx.attr.data.flatMap((t) => t.runfiles)],
    };
  },
});
