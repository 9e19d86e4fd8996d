import { HbError } from "../base/errors";
import { loadingPackage } from "./rule";

export interface GlobOptions {
  exclude?: readonly string[];
  /**
   * false: an empty result is an error. true: an empty result is fine, even when the patterns
   * reach into subpackages. Unset: an empty result is an error only when they do.
   */
  allowEmpty?: boolean;
}

/**
 * Files of the current package matching `include` and not `exclude`, relative to the package,
 * sorted. Never crosses into a subpackage: a glob that matched nothing while its patterns reach
 * into subpackages (whose files are theirs) is an error naming them, rather than a target over
 * nothing. The result is part of the analysis cache key.
 */
export function glob(include: readonly string[], opts: GlobOptions = {}): string[] {
  const pkg = loadingPackage("glob()");
  const isList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (!isList(include) || (opts.exclude !== undefined && !isList(opts.exclude))) {
    throw new HbError("BAD_ATTRIBUTE", "glob() takes an array of patterns and { exclude: [patterns] }", { location: pkg.callSite() });
  }
  const result = pkg.glob(include, opts.exclude ?? []);
  const subpackages = result.length === 0 && opts.allowEmpty !== true ? pkg.subpackagesReached(include) : [];
  if (subpackages.length > 0) {
    const named = subpackages.slice(0, 5).map((p) => `//${p}`);
    throw new HbError(
      "BAD_ATTRIBUTE",
      `glob(${JSON.stringify(include)}) in //${pkg.pkg} matched no file of its package: every file it reaches lies in a subpackage (${named.join(", ")}${subpackages.length > 5 ? ` and ${subpackages.length - 5} more` : ""}), and globs stop at package boundaries`,
      {
        location: pkg.callSite(),
        hint: `name those packages' files by their labels instead, e.g. a filegroup({ name: "srcs", srcs: glob([...]) }) in ${named[0]}/BUILD.ts used as "${named[0]}:srcs"; or pass { allowEmpty: true } if nothing is meant`,
      },
    );
  }
  if (result.length === 0 && opts.allowEmpty === false) {
    throw new HbError("BAD_ATTRIBUTE", `glob(${JSON.stringify(include)}) matched no files in //${pkg.pkg}`, { location: pkg.callSite() });
  }
  return result;
}
