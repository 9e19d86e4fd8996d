// The sandboxed BUILD.ts evaluator: gets its request and everything it reads from the workspace
// from hb over stdin (names and bundled BUILD.ts files, never other files' contents), writes its
// requests and its result to stdout. It runs BUILD.ts code, so it runs under bwrap.
import { type EvaluationResult, connectToHost, loadAndAnalyze } from "@hb/core/analyzer";
import "@hb/rules-node/register";

const { request, access, done } = await connectToHost<EvaluationResult>(process.stdin, process.stdout);
done(await loadAndAnalyze(request, access));
process.stdin.destroy();
