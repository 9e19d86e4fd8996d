import { HbError } from "../base/errors";
import { vcsDirOf } from "../workspace/config";
import type { ToolchainRef } from "../base/graph";
import { SHA256_HEX } from "../base/digest";
import { attr } from "./attrs";
import type { TargetRef } from "./file";
import { GENRULE_SHELL } from "./shell";
import { rule } from "./rule";

/** What a toolchain target provides: a program pinned by digest. */
export type Toolchain = ToolchainRef;

/** A toolchain's path: absolute, or relative and staying in the workspace; never in .git/ and its kind. */
function checkToolchainPath(label: string, path: string, what: string): void {
  const segments = path.startsWith("/") ? path.split("/").slice(1) : path.split("/");
  if (path === "" || segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new HbError("BAD_ATTRIBUTE", `path of ${label} must name ${what}, without '..': '${path}'`);
  }
  const vcs = vcsDirOf(path);
  if (vcs) {
    throw new HbError(
      "BAD_ATTRIBUTE",
      `toolchain path '${path}' of ${label} is inside ${vcs}/, version-control metadata, which no action may see`,
      {
        hint: `${vcs}/ holds credentials (a CI checkout keeps its token in .git/config)`,
      },
    );
  }
}

/**
 * Pins a program by digest: `path` is absolute (a host program, e.g. /usr/bin/python3) or
 * workspace-relative (a file of the workspace, staged like a tool). List the target in a
 * genrule's `tools`, or pass it to ctx.actions.run. A program whose digest changed stops the
 * build with both digests; in --sandbox=strict only declared toolchains are visible.
 */
export const toolchain = rule({
  kind: "toolchain",
  attrs: {
    path: attr.string({ mandatory: true, doc: "absolute host path, or a workspace-relative path" }),
    sha256: attr.string({ mandatory: true, doc: "the program's sha256 (sha256sum PATH)" }),
  },
  impl(ctx) {
    const path = ctx.attr.path!;
    const sha256 = ctx.attr.sha256!;
    if (!SHA256_HEX.test(sha256)) {
      throw new HbError("BAD_ATTRIBUTE", `sha256 of ${ctx.label} must be 64 lowercase hex digits, not '${sha256}'`, {
        hint: `compute it: sha256sum ${path}`,
      });
    }
    checkToolchainPath(ctx.label, path, "a file");
    const provided: Toolchain = { label: ctx.label, path, sha256 };
    return { files: [], toolchain: provided };
  },
});

/**
 * A program or directory of this machine or workspace pinned by the digest it has at build time
 * (node_modules/typescript after npm ci, say): its digest enters every action key that uses it
 * and is checked before each use, but no digest is asserted in BUILD.ts.
 */
export const local_toolchain = rule({
  kind: "local_toolchain",
  attrs: { path: attr.string({ mandatory: true, doc: "absolute host path, or a workspace-relative path (a file or a directory)" }) },
  impl(ctx) {
    const path = ctx.attr.path!;
    checkToolchainPath(ctx.label, path, "a file or directory");
    const provided: Toolchain = { label: ctx.label, path, sha256: "" };
    return { files: [], toolchain: provided };
  },
});

/** The toolchain a dependency provides, if it is a toolchain target. */
export function toolchainOf(ref: TargetRef): Toolchain | undefined {
  const t = ref.providers.toolchain as Toolchain | undefined;
  return t && typeof t.path === "string" && typeof t.sha256 === "string" ? t : undefined;
}

/** The shell genrule commands run in, pinned (it is also pinned implicitly, by its digest at build time). */
export function shell_toolchain(args: { name?: string; sha256: string; tags?: string[] }): void {
  toolchain({ name: args.name ?? "bash", path: GENRULE_SHELL, sha256: args.sha256, tags: args.tags });
}

/** Node.js, pinned. */
export function node_toolchain(args: { name?: string; path?: string; sha256: string; tags?: string[] }): void {
  toolchain({ name: args.name ?? "node", path: args.path ?? "/usr/bin/node", sha256: args.sha256, tags: args.tags });
}
