import type { File, TargetRef } from "./file";

export type AttrKind = "label" | "label_list" | "output" | "output_list" | "string" | "string_list" | "string_dict" | "bool" | "int";

export interface AttrSpec<K extends AttrKind = AttrKind> {
  readonly kind: K;
  readonly mandatory: boolean;
  readonly default?: unknown;
  readonly doc?: string;
  /** label attributes: each target must provide an executable */
  readonly executable?: boolean;
}

export type AttrSchema = Record<string, AttrSpec>;

interface AttrOptions<T> {
  mandatory?: boolean;
  default?: T;
  doc?: string;
}

function spec<K extends AttrKind>(kind: K, opts: AttrOptions<unknown> & { executable?: boolean } = {}): AttrSpec<K> {
  return { kind, mandatory: opts.mandatory ?? false, default: opts.default, doc: opts.doc, executable: opts.executable };
}

/** Attribute types for `rule({ attrs })`, after Bazel's `attr` module. */
export const attr = {
  /** one label: a target or a file; in `impl`, a TargetRef */
  label: (opts: AttrOptions<string> & { executable?: boolean } = {}) => spec("label", opts),
  /** labels; in `impl`, TargetRef[] */
  labelList: (opts: AttrOptions<string[]> & { executable?: boolean } = {}) => spec("label_list", opts),
  /** an output file name, predeclared so other targets can refer to it by label; in `impl`, a File */
  output: (opts: AttrOptions<string> = {}) => spec("output", opts),
  /** output file names; in `impl`, File[] */
  outputList: (opts: AttrOptions<string[]> = {}) => spec("output_list", opts),
  string: (opts: AttrOptions<string> = {}) => spec("string", opts),
  stringList: (opts: AttrOptions<string[]> = {}) => spec("string_list", opts),
  stringDict: (opts: AttrOptions<Record<string, string>> = {}) => spec("string_dict", opts),
  bool: (opts: AttrOptions<boolean> = {}) => spec("bool", opts),
  int: (opts: AttrOptions<number> = {}) => spec("int", opts),
};

/** What a BUILD.ts writes for an attribute of kind K. */
export type AttrInput<K extends AttrKind> = K extends "label" | "output" | "string"
  ? string
  : K extends "label_list" | "output_list" | "string_list"
    ? readonly string[]
    : K extends "string_dict"
      ? Readonly<Record<string, string>>
      : K extends "bool"
        ? boolean
        : K extends "int"
          ? number
          : never;

/** What `impl` sees for an attribute of kind K. */
export type AttrValue<K extends AttrKind> = K extends "label"
  ? TargetRef | undefined
  : K extends "label_list"
    ? TargetRef[]
    : K extends "output"
      ? File | undefined
      : K extends "output_list"
        ? File[]
        : K extends "string"
          ? string | undefined
          : K extends "string_list"
            ? string[]
            : K extends "string_dict"
              ? Record<string, string>
              : K extends "bool"
                ? boolean
                : K extends "int"
                  ? number | undefined
                  : never;

/** Attributes every rule has. */
export interface CommonArgs {
  name: string;
  /** free-form tags; some change execution: `no-sandbox`, `no-cache`, `manual` */
  tags?: readonly string[];
  /**
   * REAPI platform properties of this target's actions, over hb.config.ts's `execProperties`
   * (`{ "container-image": "docker://node:20@sha256:..." }`): what a remote executor runs them on.
   * They enter the action key.
   */
  exec_properties?: Readonly<Record<string, string>>;
}

export type RuleArgs<A extends AttrSchema> = CommonArgs & { [K in keyof A]?: AttrInput<A[K]["kind"]> };

export type AttrValues<A extends AttrSchema> = { [K in keyof A]: AttrValue<A[K]["kind"]> };

export function isLabelKind(kind: AttrKind): kind is "label" | "label_list" {
  return kind === "label" || kind === "label_list";
}

export function isOutputKind(kind: AttrKind): kind is "output" | "output_list" {
  return kind === "output" || kind === "output_list";
}

/** Checks a raw BUILD.ts value against an attribute kind; returns a description of what was expected, or undefined. */
export function checkAttrValue(kind: AttrKind, value: unknown): string | undefined {
  const isStrList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  switch (kind) {
    case "label":
    case "output":
    case "string":
      return typeof value === "string" ? undefined : "a string";
    case "label_list":
    case "output_list":
    case "string_list":
      return isStrList(value) ? undefined : "an array of strings";
    case "string_dict":
      return typeof value === "object" &&
        value !== null &&
        !Array.isArray(value) &&
        Object.values(value).every((x) => typeof x === "string")
        ? undefined
        : "an object of strings";
    case "bool":
      return typeof value === "boolean" ? undefined : "true or false";
    case "int":
      return typeof value === "number" && Number.isInteger(value) ? undefined : "an integer";
  }
}

export function emptyValue(kind: AttrKind): unknown {
  switch (kind) {
    case "label_list":
    case "output_list":
    case "string_list":
      return [];
    case "string_dict":
      return {};
    case "bool":
      return false;
    default:
      return undefined;
  }
}
