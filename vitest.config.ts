import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    // end-to-end tests spawn real bwrap sandboxes, servers and builds
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
