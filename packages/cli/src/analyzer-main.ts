// The sandboxed analyzer process: reads an AnalysisRequest on stdin, loads and analyzes, writes
// an AnalysisResponse on stdout. It runs BUILD.ts code, so it runs under bwrap.
import { readFileSync } from "node:fs";
import type { AnalysisRequest } from "@hb/core";
import { loadAndAnalyze, registerApiModule } from "@hb/core/analyzer";
import * as rulesNode from "@hb/rules-node";

registerApiModule("@hb/rules-node", rulesNode as Record<string, unknown>);
const request = JSON.parse(readFileSync(0, "utf8")) as AnalysisRequest;
const response = await loadAndAnalyze(request);
process.stdout.write(JSON.stringify(response));
