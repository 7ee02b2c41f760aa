import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          // test/fuzz holds pure generators of hostile input: their own tests need no services.
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/fuzz/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/fuzz/**"],
          globalSetup: ["test/setup/global-setup.ts"],
          // One file at a time: the files share one Kafka broker and a 2-core machine.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
