import { SourceMap } from "node:module";
import vm from "node:vm";
import { HbError, type SourceLocation } from "../base/errors";
import { DEFAULT_LOADING } from "../workspace/config";
import type { BundledFile } from "./bundle";

// BUILD.ts evaluation: one node:vm context offering only the hb API. Its intrinsics are frozen,
// and a file that adds a global is refused, so one package cannot pass state to another (the
// analysis of a target must not depend on which other packages were loaded first). This gives
// determinism (no clock, no randomness, no process, no fs), not security: the analyzer process
// runs under bwrap for that.

const FILE_PREFIX = "hb-build:///";
const FORBIDDEN = "HB_FORBIDDEN:";

const PRELUDE = `(() => {
  "use strict";
  const forbid = (what) => { throw new Error(${JSON.stringify(FORBIDDEN)} + what); };
  const RealDate = Date;
  class HermeticDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) forbid("new Date() without arguments");
      super(...args);
    }
    static now() { return forbid("Date.now()"); }
  }
  globalThis.Date = HermeticDate;
  Math.random = () => forbid("Math.random()");
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    const v = globalThis[name];
    if (v !== globalThis && (typeof v === "function" || (typeof v === "object" && v !== null))) {
      Object.freeze(v);
      if (typeof v === "function" && v.prototype) Object.freeze(v.prototype);
    }
  }
})();`;

/** module name (`@hb/core`, a rules package) -> what BUILD.ts files get when they import it */
export type ApiModules = ReadonlyMap<string, Record<string, unknown>>;

export interface Evaluator {
  /** runs a bundled file; returns its `module.exports` */
  run(file: BundledFile): unknown;
  /** how long one file may run before it is stopped (an analysis error naming it) */
  setTimeLimit(seconds: number): void;
  /** where in the user's sources the innermost user frame of the current stack is */
  callSite(fallbackFile: string): SourceLocation;
  /** where in the user's sources an error was thrown, if it came from user code */
  locate(e: unknown): SourceLocation | undefined;
}

/** Refuses imports of names the API does not have, with a list of those it has. */
function strictModule(id: string, api: Record<string, unknown>): Record<string, unknown> {
  for (const v of Object.values(api)) if (typeof v === "function" || (typeof v === "object" && v !== null)) Object.freeze(v);
  return new Proxy(Object.freeze({ ...api }), {
    get(target, prop) {
      if (typeof prop !== "string" || prop in target || prop === "__esModule" || prop === "default" || prop === "then") {
        return Reflect.get(target, prop);
      }
      throw new HbError("FORBIDDEN_IN_BUILD_FILE", `${id} has no export '${prop}' for BUILD.ts files`, {
        hint: `it exports: ${Object.keys(target).sort().join(", ")}`,
      });
    },
  });
}

/** Where the file being run is reachable from the script that runs it, for the length of the call. */
const RUN = Symbol.for("hb.runBuildFile");

export function createEvaluator(api: ApiModules, log: (line: string) => void): Evaluator {
  const maps = new Map<string, SourceMap>();
  const say =
    (level: string) =>
    (...args: unknown[]) =>
      log(`${level}${args.map((a) => (typeof a === "string" ? a : safeJson(a))).join(" ")}`);
  const consoleApi = Object.freeze({ log: say(""), info: say(""), debug: say(""), warn: say("warning: "), error: say("error: ") });
  const context = vm.createContext({ console: consoleApi }, { name: "BUILD.ts", codeGeneration: { strings: false, wasm: false } });
  vm.runInContext(PRELUDE, context);
  const globals = new Set(vm.runInContext("Object.getOwnPropertyNames(globalThis)", context) as string[]);
  const modules = new Map([...api].map(([id, m]) => [id, strictModule(id, m)]));
  const requireShim = (id: string): unknown => {
    const m = modules.get(id);
    if (m) return m;
    throw new HbError("FORBIDDEN_IN_BUILD_FILE", `require('${id}') is not available in BUILD.ts`, {
      hint: `BUILD.ts may import only relative files and ${[...modules.keys()].join(", ")}`,
    });
  };

  const mapFrame = (file: string, line: number, column: number): SourceLocation | undefined => {
    const map = maps.get(file);
    if (!map) return undefined;
    const entry = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined) return { file: file.slice(FILE_PREFIX.length) };
    return { file: entry.originalSource, line: (entry.originalLine ?? 0) + 1, column: (entry.originalColumn ?? 0) + 1 };
  };

  const locateStack = (stack: string): SourceLocation | undefined => {
    const re = /(hb-build:\/\/\/[^\s():]+):(\d+):(\d+)/g;
    const m = re.exec(stack);
    return m ? mapFrame(m[1]!, Number(m[2]), Number(m[3])) : undefined;
  };

  const forbiddenError = (e: unknown): HbError | undefined => {
    const message = (e as Error)?.message;
    if (typeof message !== "string" || !message.startsWith(FORBIDDEN)) return undefined;
    const what = message.slice(FORBIDDEN.length);
    return new HbError(
      "FORBIDDEN_IN_BUILD_FILE",
      `${what} is not available in BUILD.ts: analysis must not depend on the clock or on randomness`,
      {
        location: locateStack(String((e as Error).stack ?? "")),
        hint: "compute values from attributes and files, or do the work in an action",
      },
    );
  };

  let timeLimitSeconds = DEFAULT_LOADING.timeoutSeconds;
  const runner = new vm.Script(`globalThis[Symbol.for(${JSON.stringify(RUN.description)})]()`, { filename: "hb-build:///run" });
  return {
    setTimeLimit(seconds: number): void {
      timeLimitSeconds = seconds;
    },
    run(file: BundledFile): unknown {
      const filename = FILE_PREFIX + file.entry;
      maps.set(filename, new SourceMap(JSON.parse(file.map)));
      const module = { exports: {} as unknown };
      try {
        const fn = vm.compileFunction(file.code, ["require", "module", "exports"], { parsingContext: context, filename });
        // called through a script with a timeout: V8 stops whatever runs once it passes, a loop too
        (context as Record<symbol, unknown>)[RUN] = () => fn(requireShim, module, module.exports);
        try {
          runner.runInContext(context, { timeout: timeLimitSeconds * 1000 });
        } finally {
          delete (context as Record<symbol, unknown>)[RUN];
        }
        const added = (vm.runInContext("Object.getOwnPropertyNames(globalThis)", context) as string[]).filter((g) => !globals.has(g));
        if (added.length > 0) {
          throw new HbError(
            "FORBIDDEN_IN_BUILD_FILE",
            `${file.entry} sets the global '${added[0]}': BUILD.ts files may not share state through globals`,
            {
              location: { file: file.entry },
              hint: "declare it with const/let (or export it from a helper file and import it)",
            },
          );
        }
      } catch (e) {
        if ((e as { code?: unknown })?.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") {
          throw new HbError("BUILD_FILE_ERROR", `${file.entry} did not finish within ${timeLimitSeconds} s: a loop that never ends?`, {
            location: { file: file.entry },
            hint: "a BUILD.ts only declares targets; if this one needs longer, raise loading.timeoutSeconds in hb.config.ts",
          });
        }
        const forbidden = forbiddenError(e);
        if (forbidden) throw forbidden;
        if (e instanceof HbError) {
          if (e.location) throw e;
          throw new HbError(e.code, e.message, { location: locateStack(String(e.stack)) ?? { file: file.entry }, hint: e.hint });
        }
        const err = e as Error;
        throw new HbError("BUILD_FILE_ERROR", `${err?.name ?? "Error"}: ${err?.message ?? String(e)}`, {
          location: locateStack(String(err?.stack ?? "")) ?? { file: file.entry },
        });
      }
      return module.exports;
    },

    callSite(fallbackFile: string): SourceLocation {
      const savedPrepare = Error.prepareStackTrace;
      const savedLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 64;
      Error.prepareStackTrace = (_e, frames) => frames;
      const holder: { stack?: NodeJS.CallSite[] } = {};
      Error.captureStackTrace(holder);
      const frames = holder.stack ?? [];
      Error.prepareStackTrace = savedPrepare;
      Error.stackTraceLimit = savedLimit;
      // A macro in an imported file reports where the BUILD.ts called it, as Bazel does.
      let innermost: SourceLocation | undefined;
      for (const f of frames) {
        const name = f.getFileName();
        if (!name?.startsWith(FILE_PREFIX)) continue;
        const loc = mapFrame(name, f.getLineNumber() ?? 1, f.getColumnNumber() ?? 1);
        if (!loc) continue;
        if (loc.file === fallbackFile) return loc;
        innermost ??= loc;
      }
      return innermost ?? { file: fallbackFile };
    },

    locate(e: unknown): SourceLocation | undefined {
      return forbiddenError(e)?.location ?? locateStack(String((e as Error)?.stack ?? ""));
    },
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
