import { describe, expect, it } from "vitest";
import { withoutComments } from "./doctor";

describe("the CI configuration hb doctor reads", () => {
  it("leaves out YAML and shell comments, not a # in a quoted string or a word", () => {
    const ci = [
      "# 3. gate: hb gate checks the artifact",
      "      - run: npx hb build //app:pkg  # then hb verify //app:pkg",
      "        run: |",
      "          # npx hb report --runs reports",
      '          echo "# not a comment: hb gate" it\'s done # hb verify',
      "          curl https://host/page#anchor",
    ].join("\n");
    expect(withoutComments(ci).split("\n")).toEqual([
      "",
      "      - run: npx hb build //app:pkg  ",
      "        run: |",
      "          ",
      '          echo "# not a comment: hb gate" it\'s done ',
      "          curl https://host/page#anchor",
    ]);
  });
});
