import { HbError } from "./errors";

/** `//pkg:name`. `pkg` is the workspace-relative directory of the BUILD.ts, "" for the root. */
export interface Label {
  readonly pkg: string;
  readonly name: string;
}

/** What a command line may ask for. */
export type TargetPattern =
  | { kind: "target"; label: Label }
  /** `//pkg:all`: every target of one package */
  | { kind: "package"; pkg: string }
  /** `//pkg/...`: every target in pkg and below */
  | { kind: "recursive"; pkg: string };

const PKG_SEGMENT = /^[A-Za-z0-9_.+@~=,-]+$/;
const NAME_SEGMENT = /^[A-Za-z0-9_.+@~=,%^#$&()-]+$/;

function labelError(text: string, why: string): HbError {
  return new HbError("BAD_LABEL", `invalid label '${text}': ${why}`, {
    hint: "labels look like //path/to/pkg:name, :name (same package) or //path/to/pkg (name = last path segment)",
  });
}

function checkPackage(pkg: string, text: string): void {
  if (pkg === "") return;
  if (pkg.startsWith("/") || pkg.endsWith("/")) throw labelError(text, "package path must not start or end with '/'");
  for (const seg of pkg.split("/")) {
    if (seg === "") throw labelError(text, "package path contains '//'");
    if (seg === "." || seg === "..") throw labelError(text, `package path may not contain '${seg}'`);
    if (!PKG_SEGMENT.test(seg)) throw labelError(text, `package path segment '${seg}' has a character that is not allowed`);
  }
}

function checkName(name: string, text: string): void {
  if (name === "") throw labelError(text, "empty target name");
  if (name.startsWith("/") || name.endsWith("/")) throw labelError(text, "target name must not start or end with '/'");
  for (const seg of name.split("/")) {
    if (seg === "") throw labelError(text, "target name contains '//'");
    if (seg === "." || seg === "..") throw labelError(text, `target name may not contain '${seg}'`);
    if (!NAME_SEGMENT.test(seg)) throw labelError(text, `target name segment '${seg}' has a character that is not allowed`);
  }
}

function lastSegment(pkg: string): string {
  const i = pkg.lastIndexOf("/");
  return i < 0 ? pkg : pkg.slice(i + 1);
}

/**
 * Parses a label as written in a BUILD.ts attribute or on a command line.
 * `contextPkg` resolves `:name` and bare `name` (a file or target of the same package).
 */
export function parseLabel(text: string, contextPkg?: string): Label {
  if (text.startsWith("@")) throw labelError(text, "external repositories (@repo//...) are not supported");
  if (text.startsWith("//")) return parseAbsolute(text, text);
  if (contextPkg === undefined) throw labelError(text, "a label outside a package must start with '//'");
  const name = text.startsWith(":") ? text.slice(1) : text;
  if (name.includes(":")) throw labelError(text, "a relative label may not contain ':' (write //pkg:name)");
  checkName(name, text);
  return { pkg: contextPkg, name };
}

/** `//pkg:name` or `//pkg`; errors quote `shown`, what the user wrote. */
function parseAbsolute(abs: string, shown: string): Label {
  const rest = abs.slice(2);
  const colon = rest.indexOf(":");
  if (colon < 0) {
    checkPackage(rest, shown);
    if (rest === "") throw labelError(shown, "'//' alone names no target; use //:name for the root package");
    return { pkg: rest, name: lastSegment(rest) };
  }
  const pkg = rest.slice(0, colon);
  const name = rest.slice(colon + 1);
  checkPackage(pkg, shown);
  checkName(name, shown);
  return { pkg, name };
}

export function formatLabel(label: Label): string {
  return `//${label.pkg}:${label.name}`;
}

/** Shortest readable form: `//a/b` when the name is the last segment. */
export function displayLabel(label: Label): string {
  if (label.pkg !== "" && label.name === lastSegment(label.pkg)) return `//${label.pkg}`;
  return formatLabel(label);
}

/** Canonical string of a label given in any accepted form. */
export function canonicalLabel(text: string, contextPkg?: string): string {
  return formatLabel(parseLabel(text, contextPkg));
}

/**
 * Parses a command-line target pattern. `cwdPkg` is the package path of the current directory
 * relative to the workspace root ("" at the root), for patterns that do not start with `//`.
 */
export function parseTargetPattern(text: string, cwdPkg = ""): TargetPattern {
  if (text.startsWith("@")) throw labelError(text, "external repositories (@repo//...) are not supported");
  let abs: string;
  if (text.startsWith("//")) abs = text;
  else if (text.startsWith(":")) abs = `//${cwdPkg}${text}`;
  else abs = `//${joinPkg(cwdPkg, text)}`;

  const body = abs.slice(2);
  if (body === "..." || body.endsWith("/...")) {
    const pkg = body === "..." ? "" : body.slice(0, -4);
    checkPackage(pkg, text);
    return { kind: "recursive", pkg };
  }
  if (body.endsWith(":all") || body.endsWith(":*")) {
    const pkg = body.slice(0, body.lastIndexOf(":"));
    checkPackage(pkg, text);
    return { kind: "package", pkg };
  }
  return { kind: "target", label: parseAbsolute(abs, text) };
}

function joinPkg(base: string, rel: string): string {
  if (base === "") return rel;
  if (rel.startsWith(":")) return base + rel;
  return `${base}/${rel}`;
}

export function formatTargetPattern(p: TargetPattern): string {
  switch (p.kind) {
    case "target":
      return formatLabel(p.label);
    case "package":
      return `//${p.pkg}:all`;
    case "recursive":
      return p.pkg === "" ? "//..." : `//${p.pkg}/...`;
  }
}

/** Is `pkg` equal to or below `root` (package paths)? */
export function isPackageUnder(pkg: string, root: string): boolean {
  return root === "" || pkg === root || pkg.startsWith(root + "/");
}

/** Joins workspace-relative paths, "" being the root: joinRel("", "a") is "a". */
export function joinRel(a: string, b: string): string {
  return a === "" ? b : b === "" ? a : `${a}/${b}`;
}

/** The directory holding a workspace-relative path, "" being the root: parentRel("a") is "". */
export function parentRel(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? "" : rel.slice(0, slash);
}
