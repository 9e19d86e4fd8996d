import { filegroup, genrule, glob } from "@hb/core";

const greeting = "//examples/basic/greeting";
const version = "//examples/basic/version";

genrule({
  name: "bundle",
  srcs: ["template.txt", greeting, version],
  tools: ["//examples/basic/tools:render", "//examples/basic/tools:sh", "//examples/basic/tools:awk"],
  outs: ["bundle.txt"],
  cmd: `render.sh $(location template.txt) GREETING=$(location ${greeting}) VERSION=$(location ${version}) > $@`,
});

genrule({
  name: "archive",
  srcs: [":bundle", greeting, version],
  outs: ["app.tar.gz"],
  tools: ["//examples/basic/tools:tar", "//examples/basic/tools:gzip"],
  // a reproducible archive: sorted entries, fixed mtime, owners and modes, no gzip timestamp
  cmd:
    "mkdir $$TMPDIR/app && cp $(SRCS) $$TMPDIR/app/ && " +
    "tar --sort=name --mtime=@$$SOURCE_DATE_EPOCH --owner=0 --group=0 --numeric-owner --mode=a+r,u+w,go-w " +
    "-C $$TMPDIR -cf - app | gzip -n > $@",
});

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
