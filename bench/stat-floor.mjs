// The no-op floor: a Node process that stats every file a no-op hb build must look at (the
// paths, one a line, in the file given): the least work that can notice an edit.
import { readFileSync, statSync } from "node:fs";

for (const p of readFileSync(process.argv[2], "utf8").split("\n")) if (p) statSync(p);
