// Makes these rules importable as `@hb/rules-node` in BUILD.ts files: the BUILD.ts evaluator
// imports this module, and core never names the rules packages it serves.
import { registerApiModule } from "@hb/core/analyzer";
import * as rules from "./index";

registerApiModule("@hb/rules-node", rules);
