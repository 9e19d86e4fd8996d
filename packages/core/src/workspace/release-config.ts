// The `release` setting of hb.config.ts: which targets' outputs are release artifacts, and the
// policy `hb gate` promotes them by. The policy names whose keys are trusted to build, so every
// key is checked to the letter, and an error names the setting itself.
import { HbError, didYouMean } from "../base/errors";

export interface ReleaseConfig {
  /** the release artifacts are these targets' outputs (the gate, without arguments, checks them) */
  targets: string[];
  policy?: ReleasePolicy;
}

export interface ReleasePolicy {
  /** builder id (runDetails.builder.id) → the public key files (workspace-relative PEM) trusted to sign for it */
  builders: Record<string, string[]>;
  /** how many distinct trusted builders (distinct keys and builder ids) must attest the digest (default 1) */
  corroboration?: number;
  /** the provenance must record a clean tree (default true) */
  cleanTree?: boolean;
  /** every npm package of the closure pinned by its lockfile or by hb.lock.json as the build started (default true) */
  pinnedInputs?: boolean;
  /** no action of the closure ran unsandboxed (default true) */
  sandboxed?: boolean;
  /** the closure was built with --sandbox=strict (default false) */
  strict?: boolean;
  /** at most this many hermeticity violations in the `hb build --audit --report` given to the gate (default: unchecked) */
  maxHermeticViolations?: number;
}

/** The policy with its defaults filled in. */
export type EffectivePolicy = Required<Omit<ReleasePolicy, "maxHermeticViolations">> & Pick<ReleasePolicy, "maxHermeticViolations">;

export function effectivePolicy(p: ReleasePolicy): EffectivePolicy {
  return {
    builders: p.builders,
    corroboration: p.corroboration ?? 1,
    cleanTree: p.cleanTree ?? true,
    pinnedInputs: p.pinnedInputs ?? true,
    sandboxed: p.sandboxed ?? true,
    strict: p.strict ?? false,
    ...(p.maxHermeticViolations !== undefined ? { maxHermeticViolations: p.maxHermeticViolations } : {}),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isBoolean = (v: unknown) => typeof v === "boolean";
const isCount = (min: number) => (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
// a builder id is what provenance records: a URI with a lowercase scheme
const isBuilderId = (id: string) => /^[a-z][a-z0-9+.-]*:/.test(id) && URL.canParse(id);
const isKeyList = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((k) => typeof k === "string" && k !== "");

const POLICY_KEYS: Record<keyof ReleasePolicy, { check: (v: unknown) => boolean; expected: string }> = {
  builders: {
    check: (v) => isRecord(v) && Object.keys(v).length > 0 && Object.entries(v).every(([id, keys]) => isBuilderId(id) && isKeyList(keys)),
    expected:
      'an object from builder id (a URI, e.g. "urn:hb:ci:main") to its public key files, e.g. { "urn:hb:ci:main": ["keys/ci.pem"] }',
  },
  corroboration: { check: isCount(1), expected: "an integer >= 1: how many distinct trusted builders must agree" },
  cleanTree: { check: isBoolean, expected: "true or false" },
  pinnedInputs: { check: isBoolean, expected: "true or false" },
  sandboxed: { check: isBoolean, expected: "true or false" },
  strict: { check: isBoolean, expected: "true or false" },
  maxHermeticViolations: { check: isCount(0), expected: "an integer >= 0" },
};

function bad(file: string, message: string, hint?: string): HbError {
  return new HbError("BAD_CONFIG", message, { location: { file }, ...(hint ? { hint } : {}) });
}

function unknownKey(file: string, path: string, key: string, known: string[]): HbError {
  const guess = didYouMean(key, known);
  return bad(
    file,
    `unknown setting '${path}.${key}' in hb.config.ts`,
    guess ? `did you mean '${path}.${guess}'?` : `known: ${known.join(", ")}`,
  );
}

/** Checks `release` key by key; `file` names hb.config.ts in errors. */
export function validateRelease(value: unknown, file: string): ReleaseConfig {
  const shape = "an object { targets: ['//app:package'], policy?: { builders: { id: [pem files] }, corroboration?, ... } }";
  if (!isRecord(value)) throw bad(file, `setting 'release' in hb.config.ts must be ${shape}`);
  for (const key of Object.keys(value))
    if (key !== "targets" && key !== "policy") throw unknownKey(file, "release", key, ["targets", "policy"]);
  const { targets, policy } = value;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === "string" && t.startsWith("//"))) {
    throw bad(file, "setting 'release.targets' in hb.config.ts must be a non-empty array of target labels, e.g. ['//app:package']");
  }
  const release: ReleaseConfig = { targets: targets as string[] };
  if (policy === undefined) return release;
  if (!isRecord(policy))
    throw bad(file, "setting 'release.policy' in hb.config.ts must be an object { builders: { id: [pem files] }, ... }");
  const known = Object.keys(POLICY_KEYS);
  for (const [key, v] of Object.entries(policy)) {
    if (!(key in POLICY_KEYS)) throw unknownKey(file, "release.policy", key, known);
    const spec = POLICY_KEYS[key as keyof ReleasePolicy];
    if (v !== undefined && !spec.check(v)) throw bad(file, `setting 'release.policy.${key}' in hb.config.ts must be ${spec.expected}`);
  }
  if (policy.builders === undefined) {
    throw bad(file, `setting 'release.policy.builders' in hb.config.ts is required: ${POLICY_KEYS.builders.expected}`);
  }
  const p = policy as unknown as ReleasePolicy;
  const builders = Object.keys(p.builders).length;
  if ((p.corroboration ?? 1) > builders) {
    throw bad(
      file,
      `setting 'release.policy.corroboration' in hb.config.ts is ${p.corroboration}, but only ${builders} builder(s) are trusted: no release could pass`,
      "list as many builders (each with its own key) in release.policy.builders, or lower corroboration",
    );
  }
  release.policy = p;
  return release;
}
