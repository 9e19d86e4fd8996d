// The fault, fuzz, memory and load suites run small in `npm test` (CI's budget) and at the
// issue's full size with `npm run test:full`, which sets HB_FULL_SUITES=1.

export const FULL_SUITES = process.env.HB_FULL_SUITES === "1";

/** `ci` in `npm test`, `full` under `npm run test:full`. */
export function suiteSize<T>(ci: T, full: T): T {
  return FULL_SUITES ? full : ci;
}

/** One line of figures on stderr, where vitest shows it and `npm run test:full | grep FIGURE` finds it. */
export function figure(suite: string, text: string): void {
  process.stderr.write(`FIGURE ${suite}: ${text}\n`);
}
