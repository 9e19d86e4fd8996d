// What hb attests about a build: an in-toto Statement v1 whose predicate is SLSA Provenance v1.
//   Statement:          https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
//   ResourceDescriptor: https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md
//   DigestSet:          https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md
//   Timestamp, TypeURI: https://github.com/in-toto/attestation/blob/main/spec/v1/field_types.md
//   SLSA Provenance v1: https://slsa.dev/spec/v1.0/provenance
import { hostname } from "node:os";
import { HbError } from "../base/errors";
import { SHA256_HEX } from "../base/digest";
import type { SandboxMode } from "../base/action-env";
import { type ActionOutputs, byproductDescriptors } from "./byproducts";

/** A local build names its own machine: it attests what it did, not that a trusted platform did it. */
export function defaultBuilderId(): string {
  return `urn:hb:builder:local:${hostname()
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")}`;
}

export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SLSA_PROVENANCE_PREDICATE_TYPE = "https://slsa.dev/provenance/v1";

/**
 * hb's SLSA buildType: `hb build` of `externalParameters.targets` in the workspace whose config
 * file is `externalParameters.config` (workspace-relative). The build is defined by:
 * - internalParameters: `hbVersion`, `sandbox` (default | strict | none), `sourceDateEpoch` (the
 *   SOURCE_DATE_EPOCH every unstamped action saw);
 * - resolvedDependencies, each tagged with `annotations.hb_kind`, in this order:
 *   - `source-commit`: `digest.gitCommit` is the commit checked out; `annotations.hb_dirty` is true
 *     when the working tree differed from it, so the commit alone does not reproduce the build.
 *     Absent when the workspace is not a git checkout with a commit;
 *   - `source`: `name` is a workspace-relative source file, `digest.sha256` its content;
 *   - `tool`: `name` is a tool's path as declared, `digest.sha256` its content;
 *   - `lockfile`: `uri` is the package's purl (`pkg:npm/...`), `digest` its lockfile integrity.
 * Subjects are outputs: `name` is the output path, `digest.sha256` its content.
 * runDetails.byproducts, when present: one descriptor per action of the build, in dependency
 * order: `name` the target's label, `digest.sha256` the `outputsDigest` of every file it wrote, and
 * `annotations` `hb_kind: "action"`, `hb_mnemonic`, `hb_action_key`, `hb_sandbox` (commands only:
 * default | strict | none, where none is an action tagged no-sandbox run with --allow-unsandboxed)
 * and `hb_outputs` (declared output path → sha256; an output directory's path ends in "/" and its
 * digest is the `outputsDigest` of the files under it).
 */
export const HB_BUILD_TYPE = "https://hb.dev/buildtypes/hb-build/v1";

/**
 * hb's SLSA buildType for an independent rebuild (`hb verify --attest`): as HB_BUILD_TYPE, by a
 * builder that built `externalParameters.targets` from scratch `internalParameters.runs` times
 * under varied conditions, with every cache off, and got the same outputs every time
 * (`internalParameters.runsAgreed`, always true: a rebuilder whose runs disagree signs nothing).
 * Its subject is one output, and its byproducts are those of its first run.
 */
export const HB_REBUILD_TYPE = "https://hb.dev/buildtypes/hb-rebuild/v1";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Algorithm name → lowercase hex digest. */
export type DigestSet = Record<string, string>;

/** At least one of `uri`, `digest`, `content` is set. */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: DigestSet;
  /** base64 */
  content?: string;
  downloadLocation?: string;
  mediaType?: string;
  annotations?: { [key: string]: JsonValue };
}

export interface Statement<Predicate> {
  _type: typeof STATEMENT_TYPE;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: Predicate;
}

export interface SlsaProvenance {
  buildDefinition: {
    buildType: string;
    externalParameters: { [key: string]: JsonValue };
    internalParameters?: { [key: string]: JsonValue };
    resolvedDependencies?: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version?: Record<string, string>; builderDependencies?: ResourceDescriptor[] };
    metadata?: { invocationId?: string; startedOn?: string; finishedOn?: string };
    byproducts?: ResourceDescriptor[];
  };
}

export type ProvenanceStatement = Statement<SlsaProvenance>;

export interface FileDigest {
  path: string;
  sha256: string;
}

export interface LockfilePin {
  name: string;
  version: string;
  /** Subresource Integrity as npm's lockfile records it (`sha512-<base64>`); absent for git or link deps */
  integrity?: string;
}

export interface ProvenanceInput {
  /** the requested targets' outputs: workspace-relative path and content digest */
  subjects: readonly { name: string; sha256: string }[];
  /** the target patterns as requested */
  targets: readonly string[];
  /** the workspace config file, workspace-relative */
  configPath: string;
  hbVersion: string;
  sandbox: SandboxMode;
  sourceDateEpoch: number;
  /** absent outside git (or before the first commit) */
  sourceCommit?: { sha: string; dirty: boolean };
  sources: readonly FileDigest[];
  tools: readonly FileDigest[];
  lockfilePins: readonly LockfilePin[];
  /** a URI naming the trusted build platform, e.g. a CI runner identity */
  builderId: string;
  invocationId: string;
  startedOn: Date;
  finishedOn: Date;
  /** every action of the build with its outputs, in dependency order: the statement's byproducts */
  actions?: readonly ActionOutputs[];
  /** an independent rebuild (HB_REBUILD_TYPE) that built it `runs` times, all agreeing */
  rebuild?: { runs: number };
}

const GIT_COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
// A TypeURI must be case-normalized (RFC 3986 6.2.2.1): at least a lowercase scheme.
const URI_SCHEME = /^[a-z][a-z0-9+.-]*:/;

function bad(message: string): HbError {
  return new HbError("BAD_PROVENANCE", message);
}

function sha256Of(what: string, hex: string): DigestSet {
  if (!SHA256_HEX.test(hex)) throw bad(`${what}: '${hex}' is not a lowercase sha256 hex digest`);
  return { sha256: hex };
}

function timestamp(what: string, date: Date): string {
  if (Number.isNaN(date.getTime())) throw bad(`${what} is not a valid date`);
  // RFC 3339 in UTC ("Z"), as the in-toto Timestamp type requires
  return date.toISOString();
}

const SRI_ALGORITHMS = new Set(["sha1", "sha256", "sha384", "sha512"]);

/** npm's SRI string (`sha512-<base64>`, space-separated when several) as a DigestSet in hex. */
function integrityDigest(pin: LockfilePin, integrity: string): DigestSet {
  const digest: DigestSet = {};
  for (const token of integrity.trim().split(/\s+/)) {
    const m = /^([a-z0-9]+)-([A-Za-z0-9+/]+={0,2})(?:\?.*)?$/.exec(token);
    if (!m || !SRI_ALGORITHMS.has(m[1]!)) throw bad(`lockfile pin ${pin.name}@${pin.version}: unsupported integrity '${token}'`);
    digest[m[1]!] = Buffer.from(m[2]!, "base64").toString("hex");
  }
  return digest;
}

/** Package URL of an npm package: the `@scope` is the namespace, percent-encoded. */
function npmPurl(name: string, version: string): string {
  const slash = name.startsWith("@") ? name.indexOf("/") : -1;
  const path =
    slash > 0 ? `${encodeURIComponent(name.slice(0, slash))}/${encodeURIComponent(name.slice(slash + 1))}` : encodeURIComponent(name);
  return `pkg:npm/${path}@${encodeURIComponent(version)}`;
}

/**
 * Sorts by key in code-unit order (not locale) and drops exact repeats; one key with two
 * different values is a caller bug that must not be signed.
 */
function sortedUnique<T>(items: readonly T[], key: (item: T) => string, same: (a: T, b: T) => boolean, what: string): T[] {
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const out: T[] = [];
  for (const item of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && key(last) === key(item)) {
      if (!same(last, item)) throw bad(`${what} '${key(item)}' is listed twice with different digests`);
      continue;
    }
    out.push(item);
  }
  return out;
}

function fileDescriptors(files: readonly FileDigest[], kind: "source" | "tool"): ResourceDescriptor[] {
  const sameFile = (a: FileDigest, b: FileDigest) => a.sha256 === b.sha256;
  return sortedUnique(files, (f) => f.path, sameFile, kind).map((f) => ({
    name: f.path,
    digest: sha256Of(`${kind} ${f.path}`, f.sha256),
    annotations: { hb_kind: kind },
  }));
}

function resolvedDependencies(input: ProvenanceInput): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [];
  if (input.sourceCommit) {
    const { sha, dirty } = input.sourceCommit;
    if (!GIT_COMMIT.test(sha)) throw bad(`source commit '${sha}' is not a full lowercase git object id`);
    deps.push({ digest: { gitCommit: sha }, annotations: { hb_kind: "source-commit", hb_dirty: dirty } });
  }
  deps.push(...fileDescriptors(input.sources, "source"), ...fileDescriptors(input.tools, "tool"));
  const pinKey = (p: LockfilePin) => `${p.name}@${p.version}`;
  for (const pin of sortedUnique(input.lockfilePins, pinKey, (a, b) => a.integrity === b.integrity, "lockfile pin")) {
    deps.push({
      uri: npmPurl(pin.name, pin.version),
      ...(pin.integrity ? { digest: integrityDigest(pin, pin.integrity) } : {}),
      annotations: { hb_kind: "lockfile" },
    });
  }
  return deps;
}

/**
 * The provenance of one build, as plain JSON data. Every list is sorted and objects are built
 * in a fixed field order, so the same input always serializes to the same bytes.
 */
export function buildProvenanceStatement(input: ProvenanceInput): ProvenanceStatement {
  if (!URI_SCHEME.test(input.builderId) || !URL.canParse(input.builderId)) {
    throw bad(`builder id '${input.builderId}' is not a URI with a lowercase scheme (e.g. https://ci.example.com/hb-builder/v1)`);
  }
  if (input.subjects.length === 0) throw bad("a provenance statement needs at least one subject");
  const subjects = sortedUnique(
    input.subjects,
    (s) => s.name,
    (a, b) => a.sha256 === b.sha256,
    "subject",
  );
  return {
    _type: STATEMENT_TYPE,
    subject: subjects.map((s) => ({ name: s.name, digest: sha256Of(`subject ${s.name}`, s.sha256) })),
    predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
    predicate: {
      buildDefinition: {
        buildType: input.rebuild ? HB_REBUILD_TYPE : HB_BUILD_TYPE,
        externalParameters: { targets: [...input.targets], config: input.configPath },
        internalParameters: {
          hbVersion: input.hbVersion,
          sandbox: input.sandbox,
          sourceDateEpoch: input.sourceDateEpoch,
          ...(input.rebuild ? { runs: input.rebuild.runs, runsAgreed: true } : {}),
        },
        resolvedDependencies: resolvedDependencies(input),
      },
      runDetails: {
        builder: { id: input.builderId },
        metadata: {
          invocationId: input.invocationId,
          startedOn: timestamp("startedOn", input.startedOn),
          finishedOn: timestamp("finishedOn", input.finishedOn),
        },
        ...(input.actions ? { byproducts: byproductDescriptors(input.actions) } : {}),
      },
    },
  };
}

/** The statement's bytes, as signed: compact UTF-8 JSON. */
export function serializeStatement<Predicate>(statement: Statement<Predicate>): Buffer {
  return Buffer.from(JSON.stringify(statement), "utf8");
}
