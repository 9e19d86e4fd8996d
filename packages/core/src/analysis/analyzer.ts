import { join } from "node:path";
import { HbError, type SourceLocation, didYouMean } from "../base/errors";
import { formatLabel, parseLabel } from "../base/label";
import { type AttrSchema, isLabelKind } from "../api/attrs";
import type { File, Providers, TargetRef } from "../api/file";
import type { TargetDecl } from "../api/rule";
import {
  type FetchOptions,
  type NpmInstallOptions,
  type RuleContext,
  type RunOptions,
  type WriteOptions,
  checkOutputName,
} from "../api/rule";
import { checkInsideWorkspace, hasBuildFile, vcsSourceError } from "../loading/package-tree";
import { joinRel } from "../base/label";
import type { LoadedPackage } from "../loading/loader";
import { ActionRecorder, sortedUnique } from "./action-recorder";
import type { SourceFs } from "../loading/source-fs";
import { vcsDirOf } from "../workspace/config";
import { BUILD_FILE } from "../workspace/workspace";
import { type ActionGraph, type ExecPath, OUT_DIR, type TargetInfo } from "../base/graph";

interface Configured {
  readonly ref: TargetRef;
  readonly info: TargetInfo;
  /** every file this target declared, by package-relative path */
  readonly declared: ReadonlyMap<string, File>;
}

interface Referrer {
  label: string;
  location: SourceLocation;
}

export function sourceFile(pkg: string, name: string): File {
  return { path: joinRel(pkg, name), shortPath: name, isSource: true, isDirectory: false, label: `//${pkg}:${name}` };
}

export function generatedFile(pkg: string, name: string, isDirectory: boolean): File {
  return {
    path: joinRel(OUT_DIR, joinRel(pkg, name)),
    shortPath: name,
    isSource: false,
    isDirectory,
    label: `//${pkg}:${name}`,
  };
}

/**
 * The analysis phase: configures each requested target and, depth first, everything it
 * depends on, by running rule implementations. The result is the action graph.
 */
export class Analysis {
  private readonly configured = new Map<string, Configured>();
  private readonly stack: string[] = [];
  private readonly sources = new Map<string, TargetRef>();
  /** ctx.actions: the actions the configured targets declared */
  private readonly recorder = new ActionRecorder();
  /** exec path -> label of the target that declared it */
  private readonly declaredBy = new Map<ExecPath, string>();
  /** every directory above a declared output -> a label declaring something inside it */
  private readonly outputAncestors = new Map<ExecPath, string>();

  constructor(
    private readonly root: string,
    private readonly packages: ReadonlyMap<string, LoadedPackage>,
    /** maps an error thrown by user code to where in BUILD.ts sources it happened */
    private readonly locateError: (e: unknown) => SourceLocation | undefined,
    /** records BUILD.ts paths looked for and not found: one appearing changes the analysis */
    private readonly absent: Set<string>,
    /** the names in the packages' trees */
    private readonly fs: SourceFs,
    /** a package labels name that does not exist -> the closest existing one */
    private readonly packageGuesses: ReadonlyMap<string, string> = new Map(),
  ) {}

  run(requested: readonly string[]): ActionGraph {
    for (const label of requested) this.target(label, undefined);
    const targets = [...this.configured.values()].map((c) => c.info).sort((a, b) => (a.label < b.label ? -1 : 1));
    return { targets, actions: this.recorder.actions, requested: [...requested] };
  }

  private target(label: string, referrer: Referrer | undefined): Configured {
    const done = this.configured.get(label);
    if (done) return done;
    const at = this.stack.indexOf(label);
    if (at >= 0) {
      const cycle = [...this.stack.slice(at), label].join(" -> ");
      throw new HbError("CYCLE", `dependency cycle: ${cycle}`, {
        location: referrer?.location,
        hint: "break the cycle: one of these targets must not depend on the next",
      });
    }
    const { pkg, name } = parseLabel(label);
    const p = this.packages.get(pkg);
    const decl = p?.targets.get(name);
    if (!p || !decl) throw new HbError("INTERNAL", `target ${label} was not loaded`);
    this.stack.push(label);
    try {
      const c = this.configure(label, p, decl);
      this.configured.set(label, c);
      return c;
    } finally {
      this.stack.pop();
    }
  }

  /** A label written in an attribute of `referrer`: a target, a generated file, or a source file. */
  private dep(text: string, fromPkg: string, referrer: Referrer): { ref: TargetRef; depLabel: string } {
    let parsed;
    try {
      parsed = parseLabel(text, fromPkg);
    } catch (e) {
      if (e instanceof HbError)
        throw new HbError(e.code, `${e.message} (in ${referrer.label})`, { location: referrer.location, hint: e.hint });
      throw e;
    }
    const label = formatLabel(parsed);
    const p = this.packages.get(parsed.pkg);
    if (!p) {
      throw new HbError(
        "NO_SUCH_PACKAGE",
        `no package '//${parsed.pkg}' (no BUILD.ts in ${parsed.pkg || "the workspace root"}/), needed by ${referrer.label}`,
        {
          location: referrer.location,
          hint: this.packageGuesses.has(parsed.pkg)
            ? `did you mean '//${this.packageGuesses.get(parsed.pkg)}:${parsed.name}'?`
            : `create ${joinRel(parsed.pkg, "BUILD.ts")} or fix the label '${text}'`,
        },
      );
    }
    // A target naming itself means the same-named file (filegroup({ name: "esbuild", srcs: ["esbuild"] })):
    // a self-dependency could never be valid.
    const selfFile = label === referrer.label && this.fs.existsSync(join(this.root, parsed.pkg, parsed.name));
    if (p.targets.has(parsed.name) && !selfFile) return { ref: this.target(label, referrer).ref, depLabel: label };
    const ownerName = p.outputs.get(parsed.name);
    if (ownerName !== undefined) {
      const ownerLabel = `//${parsed.pkg}:${ownerName}`;
      const owner = this.target(ownerLabel, referrer);
      const file = owner.declared.get(parsed.name)!;
      return { ref: { label, files: [file], runfiles: [], providers: {} }, depLabel: ownerLabel };
    }
    return { ref: this.source(parsed.pkg, parsed.name, label, p, referrer), depLabel: label };
  }

  private source(pkg: string, name: string, label: string, p: LoadedPackage, referrer: Referrer): TargetRef {
    const known = this.sources.get(label);
    if (known) return known;
    const rel = joinRel(pkg, name);
    const vcs = vcsDirOf(rel);
    if (vcs) throw vcsSourceError(rel, vcs, referrer.label, { location: referrer.location });
    // A file below a subpackage belongs to that package, as in Bazel.
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const sub = joinRel(pkg, parts.slice(0, i).join("/"));
      if (!hasBuildFile(this.fs, this.root, sub)) this.absent.add(joinRel(sub, BUILD_FILE));
      else {
        throw new HbError("BAD_ATTRIBUTE", `'${label}' crosses a package boundary: ${rel} belongs to //${sub}`, {
          location: referrer.location,
          hint: `write //${sub}:${parts.slice(i).join("/")}`,
        });
      }
    }
    const st = this.fs.statSync(join(this.root, rel), { throwIfNoEntry: false });
    if (!st) {
      const guess = didYouMean(name, [...p.targets.keys(), ...p.outputs.keys()]);
      throw new HbError("NO_SUCH_TARGET", `no target or file '${label}' (needed by ${referrer.label})`, {
        location: referrer.location,
        hint: guess
          ? `did you mean '${parseLabel(referrer.label).pkg === pkg ? `:${guess}` : `//${pkg}:${guess}`}'?`
          : `${rel} does not exist and //${pkg} declares no target '${name}'`,
      });
    }
    if (st.isDirectory()) {
      throw new HbError(
        "BAD_ATTRIBUTE",
        `'${label}' is a directory; list its files (glob(["${name}/**"])) or use a filegroup (in ${referrer.label})`,
        {
          location: referrer.location,
        },
      );
    }
    checkInsideWorkspace(this.fs, this.root, rel, referrer.label);
    const ref: TargetRef = { label, files: [sourceFile(pkg, name)], runfiles: [], providers: {} };
    this.sources.set(label, ref);
    return ref;
  }

  private configure(label: string, p: LoadedPackage, decl: TargetDecl): Configured {
    const schema = decl.rule.attrs as AttrSchema;
    const referrer: Referrer = { label, location: decl.location };
    const attr: Record<string, unknown> = {};
    const depLabels: string[] = [];
    const declared = new Map<string, File>();

    for (const [key, spec] of Object.entries(schema)) {
      const value = decl.attrs[key];
      if (isLabelKind(spec.kind)) {
        const texts = spec.kind === "label" ? (value === undefined ? [] : [value as string]) : (value as string[]);
        const refs = texts.map((t) => {
          const { ref, depLabel } = this.dep(t, p.pkg, referrer);
          depLabels.push(depLabel);
          if (spec.executable && !ref.executable && ref.files.length !== 1) {
            throw new HbError("BAD_ATTRIBUTE", `attribute '${key}' of ${label} needs an executable, and ${ref.label} provides none`, {
              location: decl.location,
            });
          }
          return ref;
        });
        attr[key] = spec.kind === "label" ? refs[0] : refs;
      } else if (spec.kind === "output" || spec.kind === "output_list") {
        const names = spec.kind === "output" ? (value === undefined ? [] : [value as string]) : (value as string[]);
        const files = names.map((n) => this.declare(p.pkg, n, false, label, declared, decl.location));
        attr[key] = spec.kind === "output" ? files[0] : files;
      } else {
        attr[key] = value;
      }
    }

    const ownActions: number[] = [];
    const ctx: RuleContext<AttrSchema> = {
      label,
      pkg: p.pkg,
      name: decl.name,
      tags: decl.tags,
      attr: attr as RuleContext<AttrSchema>["attr"],
      packageType: p.packageType,
      ruleDir: joinRel(OUT_DIR, p.pkg),
      files: (attrName: string) => {
        const spec = schema[attrName];
        if (!spec || !isLabelKind(spec.kind)) {
          throw new HbError("BAD_ATTRIBUTE", `ctx.files('${attrName}'): ${decl.rule.kind} has no label attribute '${attrName}'`, {
            location: decl.location,
          });
        }
        const v = attr[attrName] as TargetRef | TargetRef[] | undefined;
        const refs = v === undefined ? [] : Array.isArray(v) ? v : [v];
        return refs.flatMap((r) => [...r.files]);
      },
      declareFile: (name: string) => this.declare(p.pkg, name, false, label, declared, decl.location),
      declareDirectory: (name: string) => this.declare(p.pkg, name, true, label, declared, decl.location),
      actions: {
        run: (opts: RunOptions) => ownActions.push(this.recorder.run(opts, label, decl, declared)),
        write: (opts: WriteOptions) => ownActions.push(this.recorder.write(opts, label, decl, declared)),
        fetch: (opts: FetchOptions) => ownActions.push(this.recorder.fetch(opts, label, decl, declared)),
        npmInstall: (opts: NpmInstallOptions) => ownActions.push(this.recorder.npmInstall(opts, label, decl, declared)),
      },
    };

    let provided: Providers | void;
    try {
      provided = decl.rule.impl(ctx);
    } catch (e) {
      if (e instanceof HbError) {
        if (e.location) throw e;
        throw new HbError(e.code, e.message, { location: decl.location, hint: e.hint });
      }
      const where = this.locateError(e) ?? decl.location;
      throw new HbError(
        "BUILD_FILE_ERROR",
        `the ${decl.rule.kind} implementation failed for ${label}: ${(e as Error)?.message ?? String(e)}`,
        {
          location: where,
        },
      );
    }

    for (const file of declared.values()) {
      if (!this.recorder.produces(file.path)) {
        throw new HbError("BAD_ATTRIBUTE", `${label} declares '${file.shortPath}' but none of its actions writes it`, {
          location: decl.location,
          hint: "list the file in the outputs of one ctx.actions.run or ctx.actions.write",
        });
      }
    }

    // a test that reads no file passes over nothing: a green that means nothing
    if (
      decl.rule.test &&
      ownActions.every((id) => this.recorder.actions[id]!.inputs.length + this.recorder.actions[id]!.tools.length === 0)
    ) {
      throw new HbError("BAD_ATTRIBUTE", `${decl.rule.kind} ${label} has no input files: it would pass without testing anything`, {
        location: decl.location,
        hint: "give it the files it tests (an empty glob? globs stop at subpackages)",
      });
    }

    const { files: providedFiles, executable, runfiles, ...custom } = (provided ?? {}) as Providers;
    const files = providedFiles ? [...providedFiles] : [...declared.values()];
    const ref: TargetRef = {
      label,
      files,
      executable,
      runfiles: runfiles ? [...runfiles] : [],
      providers: custom,
    };
    const info: TargetInfo = {
      label,
      kind: decl.rule.kind,
      location: decl.location,
      deps: sortedUnique(depLabels),
      files: files.map((f) => f.path),
      tags: [...decl.tags],
    };
    if (executable) info.executable = executable.path;
    if (ref.runfiles.length > 0) info.runfiles = sortedUnique(ref.runfiles.map((f) => f.path));
    if (decl.rule.test) info.test = true;
    if (Object.keys(custom).length > 0) info.providers = JSON.parse(JSON.stringify(custom)) as Record<string, unknown>;
    return { ref, info, declared };
  }

  private declare(
    pkg: string,
    name: string,
    isDirectory: boolean,
    label: string,
    declared: Map<string, File>,
    location: SourceLocation,
  ): File {
    checkOutputName(name, pkg, label, location);
    // a path below (or at) a subpackage belongs to that package, an output as much as a source (Bazel)
    const parts = name.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const sub = joinRel(pkg, parts.slice(0, i).join("/"));
      if (!hasBuildFile(this.fs, this.root, sub)) this.absent.add(joinRel(sub, BUILD_FILE));
      else {
        throw new HbError("OUTPUT_OUTSIDE_PACKAGE", `output '${name}' of ${label} lies in package //${sub}`, {
          location,
          hint: `declare it in //${sub}, or give it a path outside ${sub}/`,
        });
      }
    }
    const mine = declared.get(name);
    if (mine) {
      if (mine.isDirectory !== isDirectory) {
        throw new HbError("OUTPUT_CONFLICT", `${label} declares '${name}' both as a file and as a directory`, { location });
      }
      return mine;
    }
    const file = generatedFile(pkg, name, isDirectory);
    const other = this.declaredBy.get(file.path);
    if (other !== undefined) {
      throw new HbError("OUTPUT_CONFLICT", `output '${name}' of ${label} is also declared by ${other}`, {
        location,
        hint: "each file has one producer",
      });
    }
    // One output inside another (a file 'a' and a file 'a/b') cannot both exist.
    const overlap = (path: string, owner: string) =>
      new HbError("OUTPUT_CONFLICT", `outputs ${path} (of ${owner}) and ${file.path} (of ${label}) overlap: one is inside the other`, {
        location,
      });
    const inside = this.outputAncestors.get(file.path);
    if (inside !== undefined) throw overlap(`${file.path}/...`, inside);
    const ancestors: string[] = [];
    for (let i = file.path.lastIndexOf("/"); i > 0; i = file.path.lastIndexOf("/", i - 1)) {
      const dir = file.path.slice(0, i);
      const owner = this.declaredBy.get(dir);
      if (owner !== undefined) throw overlap(dir, owner);
      ancestors.push(dir);
    }
    for (const dir of ancestors) if (!this.outputAncestors.has(dir)) this.outputAncestors.set(dir, label);
    this.declaredBy.set(file.path, label);
    declared.set(name, file);
    return file;
  }
}
