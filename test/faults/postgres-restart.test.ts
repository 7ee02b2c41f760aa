import { afterAll, beforeAll, describe, it } from "vitest";
import { type PrivatePostgres, startPrivatePostgres } from "../harness/private-postgres.ts";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

const OUTAGE_MS = 10_000;

describe("Postgres stopped (immediate) for 10 s under load and started again", () => {
  let postgres: PrivatePostgres;
  beforeAll(async () => {
    postgres = await startPrivatePostgres();
  });
  afterAll(async () => {
    await postgres?.close();
  });

  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_postgres",
      postgres,
      fault: async () => {
        await postgres.stop("immediate");
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        await postgres.start();
      },
    });
    console.log(describeRun("postgres-restart", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
