// Types of gen-monorepo.mjs for the TypeScript that imports it (test/reapi.test.ts).

export interface MonorepoManifest {
  n: number;
  f: number;
  edges: number;
}

/** Writes the bench monorepo (N packages × F files, one esbuild genrule each) into `out`. */
export function generate(opts: {
  out: string;
  n?: number;
  f?: number;
  lines?: number;
  maxDeps?: number;
  seed?: number;
  esbuild?: string;
  force?: boolean;
}): MonorepoManifest;
