import { ExitCode, HbError, asDiskFull, didYouMean } from "@hb/core/engine";
import { errorText } from "./ui/messages";
import { type Command, commandHelp, parseCommandArgs, selectSubcommand } from "./args";
import { HB_VERSION } from "./version";

/**
 * Every command, loaded when it runs: a command's module brings the parts of the engine it uses,
 * so a no-op `hb build` compiles the code of a no-op build and not that of the other fifteen.
 */
const COMMANDS: { name: string; load(): Promise<Command> }[] = [
  { name: "init", load: async () => (await import("./commands/init")).initCommand },
  { name: "build", load: async () => (await import("./commands/build")).buildCommand },
  { name: "watch", load: async () => (await import("./commands/watch")).watchCommand },
  { name: "test", load: async () => (await import("./commands/test")).testCommand },
  { name: "run", load: async () => (await import("./commands/run")).runCommand },
  { name: "query", load: async () => (await import("./commands/query")).queryCommand },
  { name: "fetch", load: async () => (await import("./commands/fetch")).fetchCommand },
  { name: "verify", load: async () => (await import("./commands/verify")).verifyCommand },
  { name: "report", load: async () => (await import("./commands/report")).reportCommand },
  { name: "doctor", load: async () => (await import("./commands/doctor")).doctorCommand },
  { name: "clean", load: async () => (await import("./commands/clean")).cleanCommand },
  { name: "cache", load: async () => (await import("./commands/cache")).cacheCommand },
  { name: "keygen", load: async () => (await import("./commands/keygen")).keygenCommand },
  { name: "attest", load: async () => (await import("./commands/attest")).attestCommand },
  { name: "gate", load: async () => (await import("./commands/gate")).gateCommand },
  { name: "explain", load: async () => (await import("./commands/explain")).explainCommand },
];

async function generalHelp(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map((c) => c.load()));
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "hb: hermetic, reproducible, attested builds for monorepos",
    "",
    "usage: hb <command> [options] [arguments]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'hb <command> --help' for a command's options. Targets are declared in BUILD.ts files;",
    "the workspace is the directory holding hb.config.ts.",
  ].join("\n");
}

async function main(cliArgs: string[], signal: AbortSignal): Promise<number> {
  // after `--`, arguments belong to the program `hb run` starts
  const cut = cliArgs.indexOf("--");
  const argv = cut < 0 ? cliArgs : cliArgs.slice(0, cut);
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const cmd = name === "help" && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write((cmd ? commandHelp(await cmd.load()) : await generalHelp()) + "\n");
    return name === undefined ? ExitCode.analysisFailed : ExitCode.ok;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write(`hb ${HB_VERSION}\n`);
    return ExitCode.ok;
  }
  const top = COMMANDS.find((c) => c.name === name);
  if (!top) {
    const guess = didYouMean(
      name,
      COMMANDS.map((c) => c.name),
    );
    throw new HbError("USAGE", `unknown command '${name}'`, {
      hint: guess ? `did you mean 'hb ${guess}'?` : "run 'hb --help' for the commands",
    });
  }
  const { cmd, argv: args } = selectSubcommand(await top.load(), rest);
  const { values, positionals } = parseCommandArgs(cmd, args);
  if (values.help === true) {
    process.stdout.write(commandHelp(cmd) + "\n");
    return ExitCode.ok;
  }
  return cmd.run({ values, positionals, cwd: process.cwd(), signal });
}

const controller = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++;
  if (interrupts === 1) {
    // every command stops on this: a build its running actions, the cache server its listening
    const again = signal === "SIGINT" ? " (press Ctrl-C again to quit at once)" : "";
    process.stderr.write(`\nhb: ${signal === "SIGINT" ? "interrupted" : "terminated"}; stopping${again}\n`);
    controller.abort(new HbError("INTERRUPTED", "interrupted"));
  } else {
    process.exit(ExitCode.interrupted);
  }
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

main(process.argv.slice(2), controller.signal).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof HbError) {
      process.stderr.write(errorText(e.toData()) + "\n");
      process.exitCode = e.exitCode;
    } else if (controller.signal.aborted) {
      process.exitCode = ExitCode.interrupted;
    } else {
      // a full disk is the machine's, wherever hb met it: said as such, not as a bug
      const full = asDiskFull(e, process.cwd(), "hb could not write");
      if (full) {
        process.stderr.write(errorText(full.toData()) + "\n");
        process.exitCode = full.exitCode;
      } else {
        process.stderr.write(`hb: internal error (a bug in hb; please report it):\n${(e as Error)?.stack ?? String(e)}\n`);
        process.exitCode = ExitCode.internal;
      }
    }
  },
);
