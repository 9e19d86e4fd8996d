import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { loadFingerprinter } from "../../base/fingerprint";
import { ContentTracker } from "./content-tracker";

it("measures a build's changes from what the last build started with: a save in two writes that ends as it began is none", async () => {
  await loadFingerprinter();
  const dir = mkdtempSync(join(tmpdir(), "hb-tracker-"));
  const a = join(dir, "a.txt");
  const b = join(dir, "b.txt");
  writeFileSync(a, "two\n");
  writeFileSync(b, "bee\n");
  const t = new ContentTracker();
  t.track(new Set([a, b]));
  // an editor truncates, the watch looks, then it writes the same bytes back
  writeFileSync(a, "");
  expect(t.check([a]).changed).toEqual([a]);
  writeFileSync(a, "two\n");
  writeFileSync(b, "sea\n");
  expect(t.check([a, b]).changed).toEqual([a, b]);
  expect(t.sinceBuild([a, b])).toEqual([b]);
  // the next build is measured from this one's start
  writeFileSync(b, "bee\n");
  expect(t.check([b]).changed).toEqual([b]);
  expect(t.sinceBuild([b])).toEqual([b]);
  expect(t.sinceBuild([a, b])).toEqual([]);
});
