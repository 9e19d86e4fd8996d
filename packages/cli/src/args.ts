import { parseArgs } from "node:util";
import { HbError, didYouMean } from "@hb/core/engine";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** shown in help: `--report FILE` */
  valueName?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  cwd: string;
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  description?: string;
  options: Record<string, OptionSpec>;
  /** true when the command takes positional arguments */
  positionals?: boolean;
  /** `hb <name> <subcommand> ...`: each subcommand parses its own options */
  subcommands?: Command[];
  run(ctx: CommandContext): Promise<number>;
}

export const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", description: "show this help" };

export function parseCommandArgs(cmd: Command, argv: string[]): { values: OptionValues; positionals: string[] } {
  const options = { help: HELP_OPTION, ...cmd.options };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(options).map(([k, o]) => [
          k,
          { type: o.type, ...(o.short ? { short: o.short } : {}), multiple: o.multiple === true },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0 && !cmd.positionals && !values.help) {
      throw new HbError("USAGE", `hb ${cmd.name} takes no arguments, got '${positionals[0]}'`, { hint: `usage: ${cmd.usage}` });
    }
    return { values: values as OptionValues, positionals };
  } catch (e) {
    if (e instanceof HbError) throw e;
    const message = (e as Error).message;
    const flag = /'(-{1,2}[^'\s]+)'/.exec(message)?.[1];
    let hint = `run 'hb ${cmd.name} --help'`;
    if (flag && message.includes("Unknown option")) {
      const guess = didYouMean(flag.replace(/^-+/, ""), Object.keys(options));
      if (guess) hint = `did you mean --${guess}?`;
    }
    throw new HbError("USAGE", `hb ${cmd.name}: ${message.replace(/\. To specify a positional argument.*$/s, "")}`, { hint });
  }
}

/**
 * The command that handles `argv`: a subcommand named by its first word, or `cmd` itself
 * (which then explains what to say) when there is none.
 */
export function selectSubcommand(cmd: Command, argv: string[]): { cmd: Command; argv: string[] } {
  const [first, ...rest] = argv;
  if (!cmd.subcommands || first === undefined || first.startsWith("-")) return { cmd, argv };
  const sub = cmd.subcommands.find((s) => s.name === `${cmd.name} ${first}`);
  if (!sub) {
    const names = cmd.subcommands.map((s) => s.name.slice(cmd.name.length + 1));
    const guess = didYouMean(first, names);
    throw new HbError("USAGE", `unknown subcommand 'hb ${cmd.name} ${first}'`, {
      hint: guess ? `did you mean 'hb ${cmd.name} ${guess}'?` : `run 'hb ${cmd.name} --help'`,
    });
  }
  return { cmd: sub, argv: rest };
}

export function commandHelp(cmd: Command): string {
  const lines = [`usage: ${cmd.usage}`, "", cmd.summary];
  if (cmd.description) lines.push("", cmd.description);
  if (cmd.subcommands) {
    const width = Math.max(...cmd.subcommands.map((s) => s.name.length));
    lines.push("", "subcommands:", ...cmd.subcommands.map((s) => `  hb ${s.name.padEnd(width)}  ${s.summary}`));
  }
  const opts = Object.entries({ ...cmd.options, help: HELP_OPTION });
  if (opts.length > 0) {
    lines.push("", "options:");
    const rows = opts.map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""}`;
      return [flag, o.description + (o.multiple ? " (repeatable)" : "")] as const;
    });
    const width = Math.max(...rows.map(([f]) => f.length));
    for (const [f, d] of rows) lines.push(`  ${f.padEnd(width)}  ${d}`);
  }
  return lines.join("\n");
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function intOption(values: OptionValues, name: string, min: number): number | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new HbError("USAGE", `--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export function choiceOption<T extends string>(values: OptionValues, name: string, choices: readonly T[]): T | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    throw new HbError("USAGE", `--${name} must be one of ${choices.join(", ")}, got '${v}'`);
  }
  return v as T;
}
