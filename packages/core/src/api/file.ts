import type { ExecPath } from "../base/graph";

/** An artifact: a source file or a file (or directory) an action of some target generates. */
export interface File {
  /** path in the execroot: `pkg/src/a.ts` or `hb-out/pkg/out.js` */
  readonly path: ExecPath;
  /** path relative to its package: `src/a.ts`, `out.js` */
  readonly shortPath: string;
  readonly isSource: boolean;
  /** a tree artifact (declareDirectory) */
  readonly isDirectory: boolean;
  /** label of the file: `//pkg:src/a.ts` */
  readonly label: string;
}

/** A dependency as a rule implementation sees it: its label and what it provides. */
export interface TargetRef {
  readonly label: string;
  /** DefaultInfo files */
  readonly files: readonly File[];
  readonly executable?: File;
  readonly runfiles: readonly File[];
  /** other providers the dependency's rule returned */
  readonly providers: Readonly<Record<string, unknown>>;
}

/** What a rule's `impl` returns. */
export interface Providers {
  /** default outputs; when omitted, every file the target declared */
  files?: readonly File[];
  executable?: File;
  runfiles?: readonly File[];
  [provider: string]: unknown;
}
