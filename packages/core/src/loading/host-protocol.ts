import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { HbError, type HbErrorData } from "../base/errors";
import type { LoadingAccess, LoadingHost } from "./loading-host";
import type { AnalysisRequest } from "./records";
import type { LoadingConfig } from "../workspace/config";

// The BUILD.ts evaluator (under bwrap, seeing no workspace file) and the host (hb's own process)
// talk in JSON lines: the evaluator's stdout carries its requests and, last, its result; its stdin
// carries the analysis request, then one answer per request. The evaluator runs untrusted code,
// so the host checks every request as it would a stranger's (LoadingHost).

type Request =
  | { id: number; op: "bundleConfig" }
  | { id: number; op: "setIgnore"; ignore: string[] }
  | { id: number; op: "setLimits"; limits: Required<LoadingConfig> }
  | { id: number; op: "loadPackages"; pkgs: string[] }
  | { id: number; op: "findPackages"; base: string }
  | { id: number; op: "statPaths"; paths: string[] };

/** Omit over each member of a union. */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: HbErrorData };

type Message<R> = Request | { op: "done"; result: R };

/**
 * The evaluator's side: the analysis request first, then a LoadingAccess whose calls go to the
 * host, and `done` to send the result.
 */
export async function connectToHost<R>(
  input: Readable,
  output: Writable,
): Promise<{ request: AnalysisRequest; access: LoadingAccess; done(result: R): void }> {
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new HbError("INTERNAL", "hb stopped answering the BUILD.ts evaluator");
    return r.value;
  };
  const request = JSON.parse(await next()) as AnalysisRequest;
  let lastId = 0;
  const send = (m: Message<R>) => output.write(`${JSON.stringify(m)}\n`);
  const call = async <T>(req: RequestBody): Promise<T> => {
    const id = ++lastId;
    send({ ...req, id } as Request);
    const answer = JSON.parse(await next()) as Answer;
    if (answer.id !== id) throw new HbError("INTERNAL", `hb answered request ${answer.id}, not ${id}`);
    if (!answer.ok) throw HbError.fromData(answer.error);
    return answer.value as T;
  };
  return {
    request,
    access: {
      bundleConfig: () => call({ op: "bundleConfig" }),
      setIgnore: (ignore) => call({ op: "setIgnore", ignore }),
      setLimits: (limits) => call({ op: "setLimits", limits }),
      loadPackages: (pkgs) => call({ op: "loadPackages", pkgs }),
      findPackages: (base) => call({ op: "findPackages", base }),
      statPaths: (paths) => call({ op: "statPaths", paths }),
    },
    done: (result) => send({ op: "done", result }),
  };
}

/**
 * The host's side: sends the request, answers the evaluator's requests in order until it sends
 * its result, and returns that; undefined if it ended without one.
 */
export async function serveEvaluator<R>(
  host: LoadingHost,
  request: AnalysisRequest,
  output: Readable,
  input: Writable,
  /** each message from the evaluator: it is alive and talking */
  onMessage: () => void = () => {},
): Promise<R | undefined> {
  const send = (line: unknown) => input.write(`${JSON.stringify(line)}\n`);
  send(request);
  for await (const line of createInterface({ input: output, crlfDelay: Infinity })) {
    onMessage();
    let m: Message<R>;
    try {
      m = JSON.parse(line) as Message<R>;
    } catch {
      throw notProtocol(line);
    }
    if (typeof m !== "object" || m === null || typeof m.op !== "string" || (m.op !== "done" && typeof m.id !== "number"))
      throw notProtocol(line);
    if (m.op === "done") return m.result;
    send(await answer(host, m));
  }
  return undefined;
}

async function answer(host: LoadingHost, m: Request): Promise<Answer> {
  try {
    let value: unknown;
    switch (m.op) {
      case "bundleConfig":
        value = await host.bundleConfig();
        break;
      case "setIgnore":
        value = await host.setIgnore(m.ignore);
        break;
      case "setLimits":
        value = await host.setLimits(m.limits);
        break;
      case "loadPackages":
        if (!Array.isArray(m.pkgs)) throw new HbError("INTERNAL", "loadPackages needs a list of packages");
        value = await host.loadPackages(m.pkgs);
        break;
      case "findPackages":
        value = await host.findPackages(m.base);
        break;
      case "statPaths":
        value = await host.statPaths(m.paths);
        break;
      default:
        throw new HbError("INTERNAL", `the BUILD.ts evaluator asked for '${String((m as { op?: unknown }).op)}', which hb does not serve`);
    }
    return { id: m.id, ok: true, value: value ?? null };
  } catch (e) {
    const error = e instanceof HbError ? e.toData() : { code: "INTERNAL" as const, message: String((e as Error)?.stack ?? e) };
    return { id: m.id, ok: false, error };
  }
}

function notProtocol(line: string): HbError {
  return new HbError(
    "BUILD_FILE_ERROR",
    `the BUILD.ts evaluator wrote something that is not hb's protocol to its output: ${JSON.stringify(line.slice(0, 200))}`,
    {
      hint: "a BUILD.ts escaping its sandbox's API (process.stdout) would do this; BUILD.ts files talk to hb only through the hb API",
    },
  );
}
