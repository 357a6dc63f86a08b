import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // convex-test's recommended environment: close to the Convex runtime (web APIs, no Node globals)
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    include: ["tests/**/*.test.ts"],
    testTimeout: 20000,
  },
});
