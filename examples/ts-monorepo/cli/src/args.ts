export interface Args {
  name: string;
  shout: boolean;
}

/** `--name NAME [--shout]`, or an error message saying what is wrong. */
export function parseArgs(argv: readonly string[]): Args | { error: string } {
  let name: string | undefined;
  let shout = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--shout") shout = true;
    else if (a === "--name") {
      name = argv[++i];
      if (name === undefined) return { error: "--name needs a value" };
    } else return { error: `unknown argument '${a}'` };
  }
  return name === undefined ? { error: "usage: greet --name NAME [--shout]" } : { name, shout };
}
