// The architecture's one rule, kept by a tool (docs/ARCHITECTURE.md): packages/core/src is laid
// out as the pipeline, and a stage imports only earlier stages and the neutral bottom layer
// (base/). No cycles anywhere. Run by `npm run lint`.

/** packages/core/src folders in pipeline order */
const STAGES = [
  "base",
  "workspace",
  "api",
  "loading",
  "analysis",
  "keying",
  "caching",
  "fetch",
  "sandbox",
  "execution",
  "provenance",
  "commands",
];
const CORE = "^packages/core/src/";

const stageRules = STAGES.slice(0, -1).map((stage, i) => ({
  name: `${stage}-imports-later-stage`,
  comment: `${stage}/ may import only ${STAGES.slice(0, i).join(", ") || "nothing of core"} (earlier stages) and itself`,
  severity: "error",
  from: { path: `${CORE}${stage}/` },
  to: { path: `${CORE}(${STAGES.slice(i + 1).join("|")})/` },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "a cycle makes two modules one: split what both need into an earlier stage",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...stageRules,
    {
      name: "core-imports-no-other-package",
      comment: "core is the bottom package: rules packages register themselves with it",
      severity: "error",
      from: { path: "^packages/core/src/" },
      to: { path: "^packages/(cli|rules-node|cache-server)/" },
    },
    {
      name: "rules-use-the-build-file-api",
      comment: "a rules package uses what a BUILD.ts may use (@hb/core), not the engine",
      severity: "error",
      from: { path: "^packages/rules-node/src/", pathNot: "(\\.test\\.ts|/register\\.ts)$" },
      to: { path: `${CORE}`, pathNot: `${CORE}(index\\.ts|api/|base/)` },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
  },
};
