import { HbError, type SourceLocation } from "../errors";
import type { AttrSchema } from "./attrs";
import type { RuleDefinition } from "./rule";

/** A target as its BUILD.ts declared it: a rule and attribute values, before analysis. */
export interface TargetDecl {
  readonly name: string;
  readonly rule: RuleDefinition<AttrSchema>;
  /** validated attribute values, defaults applied, labels not yet resolved */
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
  readonly location: SourceLocation;
}

/** The package whose BUILD.ts is being evaluated; BUILD.ts functions register into it. */
export interface PackageBeingLoaded {
  readonly pkg: string;
  /** workspace-relative path of its BUILD.ts */
  readonly buildFile: string;
  readonly targets: Map<string, TargetDecl>;
  /** predeclared output (package-relative path) -> name of the target that declares it */
  readonly outputs: Map<string, string>;
  glob(include: readonly string[], exclude: readonly string[]): string[];
  /** whether the package has a source file (or directory) at this package-relative path */
  isSource(path: string): boolean;
  /** where in the user's source the current BUILD.ts call was made */
  callSite(): SourceLocation;
}

let current: PackageBeingLoaded | undefined;

export function setLoadingPackage(p: PackageBeingLoaded | undefined): void {
  current = p;
}

export function loadingPackage(what: string): PackageBeingLoaded {
  if (!current) {
    throw new HbError("BUILD_FILE_ERROR", `${what} may only be called while a BUILD.ts is evaluated`, {
      hint: "call it at the top level of BUILD.ts (or from a function BUILD.ts calls), not from a rule implementation",
    });
  }
  return current;
}
