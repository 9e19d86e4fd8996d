import { VERSION, greet } from "@tsm/greet";
import { parseArgs } from "./args";

const args = parseArgs(process.argv.slice(2));
if ("error" in args) {
  process.stderr.write(`${args.error}\n`);
  process.exit(2);
}
process.stdout.write(`${greet({ name: args.name, shout: args.shout })} (greet ${VERSION})\n`);
