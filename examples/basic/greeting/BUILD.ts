import { filegroup, genrule, glob } from "@hb/core";

filegroup({ name: "messages", srcs: glob(["messages/*.txt"]) });

genrule({
  name: "greeting",
  srcs: [":messages"],
  outs: ["greeting.txt"],
  // $(SRCS) lists the glob's files in sorted order
  cmd: "cat $(SRCS) > $@",
});

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
