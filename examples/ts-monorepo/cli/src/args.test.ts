import assert from "node:assert/strict";
import { test } from "node:test";
import { greet } from "@tsm/greet";
import { parseArgs } from "./args";

test("reads --name and --shout", () => {
  assert.deepEqual(parseArgs(["--name", "Ada", "--shout"]), { name: "Ada", shout: true });
});

test("says what is wrong", () => {
  assert.deepEqual(parseArgs([]), { error: "usage: greet --name NAME [--shout]" });
  assert.deepEqual(parseArgs(["--nme", "x"]), { error: "unknown argument '--nme'" });
});

test("uses the library by its package name", () => {
  assert.equal(greet({ name: "cli" }), "Hello, cli!");
});
