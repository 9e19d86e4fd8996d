import { filegroup, genrule, glob } from "@hb/core";

genrule({
  name: "version",
  srcs: ["VERSION"],
  outs: ["version.json"],
  // with `hb build --stamp`, SOURCE_DATE_EPOCH is the commit time and HB_GIT_COMMIT the commit
  stamp: true,
  cmd:
    'printf \'{"version":"%s","sourceDateEpoch":%s,"commit":"%s"}\\n\' ' +
    '"$$(cat $<)" "$$SOURCE_DATE_EPOCH" "$${HB_GIT_COMMIT:-unstamped}" > $@',
});

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
