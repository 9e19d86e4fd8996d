import assert from "node:assert/strict";
import { test } from "node:test";
import { greet } from "./greet";

test("greets by name", () => {
  assert.equal(greet({ name: "Ada" }), "Hello, Ada!");
});

test("shouts when asked, with the chosen punctuation", () => {
  assert.equal(greet({ name: " Grace ", shout: true, punctuation: "." }), "HELLO, GRACE.");
});

test("refuses an empty name", () => {
  assert.throws(() => greet({ name: "  " }), /must not be empty/);
});
