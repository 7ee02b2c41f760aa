import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          // test/fuzz holds pure generators of hostile input: their own tests need no services.
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/fuzz/**/*.test.ts"],
          // Property tests run hundreds of cases; on two cores shared with the integration stack a 5 s default
          // fails them for the machine's load, not for anything they check.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/fuzz/**"],
          globalSetup: ["test/setup/global-setup.ts"],
          // Two files at a time: most of a file's time is spent waiting (on outages, budgets, brokers
          // starting), and every file uses fresh topics, groups, databases and ports, so two share the
          // broker and the 2-core machine without meeting.
          fileParallelism: true,
          maxWorkers: 2,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
