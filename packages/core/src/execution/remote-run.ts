import { rmSync, writeFileSync } from "node:fs";
import { type ServiceError, status } from "@grpc/grpc-js";
import type { ActionResult } from "../base/action-result";
import { HbError } from "../base/errors";
import type { RunAction } from "../base/graph";
import { describeCommand } from "../api/shell";
import type { LocalCas } from "../caching/local-cas";
import { unsafePaths } from "../caching/remote/ac-entry";
import { actionMessage, hbFiles } from "../caching/remote/reapi/action-message";
import { BlobError, CasClient } from "../caching/remote/reapi/cas-client";
import { type ReapiChannel, codeOf, describeGrpcError, isRetried } from "../caching/remote/reapi/channel";
import { type Digest, type ExecuteResponse, type Operation, unpack } from "../caching/remote/reapi/proto";
import { ExecutionService } from "../caching/remote/reapi/services";
import type { RemoteStats } from "../caching/remote/team-cache";
import type { Job } from "./job";
import type { RunOutcome } from "./run-action";

/** How often a dropped Execute stream is picked up again (WaitExecution) before the action runs locally. */
const RECONNECTS = 5;

export interface RemoteRunOptions {
  channel: ReapiChannel;
  instance: string;
  /** use results the engine finds in its own cache (remoteCache.trustEngine for the instance) */
  trustEngine: boolean;
  cas: LocalCas;
  epoch: number;
  stats: RemoteStats;
  warn(message: string): void;
}

/** A failure of the remote side, not of the action: the action runs locally instead. */
class RemoteTrouble extends Error {}

/**
 * Runs `run` actions on a REAPI executor: the Action, Command, input tree and missing inputs
 * uploaded first, then Execute, following the operation (WaitExecution after a dropped stream),
 * then the outputs fetched, re-hashed, into the local CAS. The result is the Execute call's own;
 * a result the engine took from its cache is asked for only where the instance trusts the engine.
 * When the executor is gone or answers wrongly, the action runs locally: said once.
 */
export class RemoteRuns {
  private readonly remoteCas: CasClient;
  private gone: string | undefined;

  constructor(private readonly opts: RemoteRunOptions) {
    this.remoteCas = new CasClient(opts.channel, opts.instance);
  }

  /** Whether `job` may run remotely: sandboxed, not tagged to stay local, no workspace directory bound whole. */
  accepts(job: Job<RunAction>): boolean {
    const { action: a, keyed } = job;
    return !this.gone && keyed.mode !== "none" && !a.tags.includes("no-remote") && !a.tags.includes("local") && keyed.dirBinds.length === 0;
  }

  /** The action's outcome, or undefined when it must run locally after all. */
  async run(job: Job<RunAction>): Promise<RunOutcome | undefined> {
    try {
      return await this.attempt(job);
    } catch (e) {
      if (e instanceof HbError) throw e;
      const why = e instanceof RemoteTrouble || e instanceof BlobError ? e.message : describeGrpcError(e);
      if (e instanceof RemoteTrouble || e instanceof BlobError)
        this.opts.warn(`remote execution of ${job.action.owner}: ${why}; running it locally`);
      else if (!this.gone) {
        this.gone = why;
        this.opts.warn(`remote executor ${this.opts.channel.display} is unavailable (${why}); running actions locally`);
      }
      return undefined;
    }
  }

  private async attempt(job: Job<RunAction>): Promise<RunOutcome> {
    const { action: a, keyed } = job;
    const started = Date.now();
    const message = actionMessage(a, keyed, this.opts.cas);
    // the Action, its Command and input tree are stored before Execute names them
    await this.remoteCas.upload([...message.inputs, ...message.messages]);
    let response = await this.execute(message.actionDigest);
    if (response.status?.code === status.FAILED_PRECONDITION) {
      // blobs evicted between the upload and the run: once more, uploading what is missing now
      await this.remoteCas.upload([...message.inputs, ...message.messages]);
      response = await this.execute(message.actionDigest);
    }
    if (response.status && response.status.code !== status.OK)
      throw new RemoteTrouble(`the executor answered ${status[response.status.code] ?? response.status.code}: ${response.status.message}`);
    const r = response.result;
    if (!r) throw new RemoteTrouble("the executor's response holds no result");
    const text = async (raw: Buffer, d: Digest | null) =>
      d && d.size_bytes > 0 ? (await this.remoteCas.read(d)).toString("utf8") : raw.toString("utf8");
    const stdout = await text(r.stdout_raw, r.stdout_digest);
    const stderr = await text(r.stderr_raw, r.stderr_digest);
    this.opts.stats.executed = (this.opts.stats.executed ?? 0) + 1;
    if (r.exit_code !== 0) {
      throw new HbError(
        "ACTION_FAILED",
        `${a.owner}: ${a.mnemonic} exited with code ${r.exit_code} on the remote executor\n  command: ${describeCommand(a)}${stderr.trim() ? `\nstderr:\n${stderr.replace(/\n$/, "").replace(/^/gm, "  | ")}` : ""}`,
      );
    }
    const { files } = await hbFiles(r, (d) => this.remoteCas.read(d));
    const result: ActionResult = {
      files,
      dirs: [...a.outputDirs],
      exitCode: 0,
      stdout,
      stderr,
      executedAtMs: started,
      durationMs: Date.now() - started,
      sandbox: keyed.mode,
    };
    const unsafe = unsafePaths(result, a);
    if (unsafe) throw new RemoteTrouble(`the executor's result does not match the action's outputs: ${unsafe}`);
    for (const f of files) {
      if (f.symlink !== undefined || this.opts.cas.get({ hash: f.hash, size: f.size })) continue;
      const tmp = this.opts.cas.tempPath();
      try {
        writeFileSync(tmp, await this.remoteCas.read({ hash: f.hash, size_bytes: f.size }));
        this.opts.cas.adopt(tmp, { hash: f.hash, size: f.size }, this.opts.epoch);
      } finally {
        rmSync(tmp, { force: true });
      }
    }
    this.opts.stats.bytesDownloaded += this.remoteCas.bytesDownloaded;
    this.opts.stats.bytesUploaded += this.remoteCas.bytesUploaded;
    this.remoteCas.bytesDownloaded = this.remoteCas.bytesUploaded = 0;
    return { result, cacheable: true };
  }

  /** Execute, following the operation to its end; a dropped stream is picked up with WaitExecution. */
  private async execute(actionDigest: Digest): Promise<ExecuteResponse> {
    let name: string | undefined;
    let failure: unknown;
    for (let attempt = 0; attempt <= RECONNECTS; attempt++) {
      failure = undefined;
      const stream = name
        ? this.opts.channel.serverStream(ExecutionService.WaitExecution, { name })
        : this.opts.channel.serverStream(ExecutionService.Execute, {
            instance_name: this.opts.instance,
            action_digest: actionDigest,
            skip_cache_lookup: !this.opts.trustEngine,
          });
      try {
        for await (const op of stream as AsyncIterable<Operation>) {
          name = op.name || name;
          if (!op.done) continue;
          if (op.error) throw new RemoteTrouble(`the operation failed: ${status[op.error.code] ?? op.error.code}: ${op.error.message}`);
          const response = unpack("build.bazel.remote.execution.v2.ExecuteResponse", op.response);
          if (!response) throw new RemoteTrouble("the finished operation holds no ExecuteResponse");
          return response;
        }
      } catch (e) {
        if (e instanceof RemoteTrouble) throw e;
        // a blob found missing before the operation exists is the call's own status (REAPI), one
        // found later the response's: the caller uploads again for either
        if (codeOf(e) === status.FAILED_PRECONDITION && !name)
          return {
            result: null,
            cached_result: false,
            status: { code: status.FAILED_PRECONDITION, message: (e as ServiceError).details, details: [] },
            message: "",
          };
        // an operation the server no longer knows is asked for again from the start
        if (codeOf(e) === status.NOT_FOUND && name) name = undefined;
        else if (!isRetried(e)) throw e;
        else failure = e;
      }
      // a pause before the next try, none after the last
      if (attempt < RECONNECTS) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
    // still failing (UNAVAILABLE, say): the executor's error, so that the build gives it up, said
    // once, and the actions after this one run locally at once instead of each trying it again
    if (failure) throw failure;
    throw new RemoteTrouble(`the execution stream ended ${RECONNECTS + 1} times before the operation was done`);
  }
}
