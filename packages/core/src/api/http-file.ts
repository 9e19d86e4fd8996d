import { attr } from "./attrs";
import { rule } from "./rule";

/**
 * Bazel's http_file: one file from a URL, pinned by sha256. It is fetched by `hb fetch` or the
 * fetch step at the start of `hb build` (the one place with network), checked before it is
 * stored, and from then on builds use it offline.
 */
export const http_file = rule({
  kind: "http_file",
  attrs: {
    url: attr.string({ mandatory: true, doc: "http(s) URL" }),
    sha256: attr.string({ mandatory: true, doc: "the file's sha256 (hex)" }),
    executable: attr.bool({ doc: "mark the file executable" }),
    downloaded_file_path: attr.string({ doc: "file name (default: the URL's last path segment)" }),
  },
  impl(ctx) {
    const url = ctx.attr.url!;
    const fromUrl = decodeURIComponent(new URL(url).pathname.split("/").filter(Boolean).pop() ?? "") || "downloaded";
    const out = ctx.declareFile(`${ctx.name}/${ctx.attr.downloaded_file_path ?? fromUrl}`);
    ctx.actions.fetch({ output: out, url, sha256: ctx.attr.sha256, executable: ctx.attr.executable });
    return { files: [out], executable: ctx.attr.executable ? out : undefined };
  },
});
