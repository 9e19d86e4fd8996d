import { HbError } from "../base/errors";
import { loadingPackage } from "./rule";

export interface GlobOptions {
  exclude?: readonly string[];
  /** refuse an empty result unless true (default true) */
  allowEmpty?: boolean;
}

/**
 * Files of the current package matching `include` and not `exclude`, relative to the package,
 * sorted. Never crosses into a subpackage. The result is part of the analysis cache key.
 */
export function glob(include: readonly string[], opts: GlobOptions = {}): string[] {
  const pkg = loadingPackage("glob()");
  const isList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (!isList(include) || (opts.exclude !== undefined && !isList(opts.exclude))) {
    throw new HbError("BAD_ATTRIBUTE", "glob() takes an array of patterns and { exclude: [patterns] }", { location: pkg.callSite() });
  }
  const result = pkg.glob(include, opts.exclude ?? []);
  if (result.length === 0 && opts.allowEmpty === false) {
    throw new HbError("BAD_ATTRIBUTE", `glob(${JSON.stringify(include)}) matched no files in //${pkg.pkg}`, { location: pkg.callSite() });
  }
  return result;
}
