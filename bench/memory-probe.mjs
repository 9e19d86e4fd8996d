// memory-probe.mjs — loaded into the watch under benchmark (`node --import` of this file, before
// hb's own entry): on SIGUSR2 it writes process.memoryUsage() as JSON to the file named by
// HB_BENCH_MEMORY_FILE (through a rename: a reader never sees half of it). With --expose-gc it
// collects garbage first, so heapUsed is what is live. It does nothing else: no timer, no
// handle that keeps the process alive, nothing hb reads.
import { renameSync, writeFileSync } from "node:fs";

const file = process.env.HB_BENCH_MEMORY_FILE;
if (file) {
  process.on("SIGUSR2", () => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...m, gc: typeof globalThis.gc === "function", atMs: Date.now() }));
    renameSync(`${file}.tmp`, file);
  });
}
