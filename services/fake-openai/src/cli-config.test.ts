import { describe, expect, it } from "vitest";
import { CLI_DEFAULT_PORT, CliConfigError, envName, parseCliConfig } from "./cli-config.ts";

describe("parseCliConfig", () => {
  it("defaults to 127.0.0.1:8089 with nothing changed", () => {
    expect(parseCliConfig([], {})).toEqual({
      host: "127.0.0.1",
      port: CLI_DEFAULT_PORT,
      patch: {},
      batches: {},
    });
  });

  it("reads flags, and FAKE_OPENAI_* variables where no flag is given", () => {
    const cli = parseCliConfig(
      ["--rpm", "600", "--limit-slice-ms", "1000", "--api-key", "sk-x", "--port", "0"],
      {
        FAKE_OPENAI_RPM: "5",
        FAKE_OPENAI_TPM: "200000",
        FAKE_OPENAI_ERROR_RATE: "0.1",
        FAKE_OPENAI_MODEL_LIMITS: '{"gpt-4o":{"rpm":100}}',
      },
    );
    expect(cli).toEqual({
      host: "127.0.0.1",
      port: 0,
      batches: {},
      patch: {
        rpm: 600,
        tpm: 200000,
        limitSliceMs: 1000,
        apiKey: "sk-x",
        errorRate: 0.1,
        modelLimits: { "gpt-4o": { rpm: 100 } },
      },
    });
  });

  it("reads an outage as JSON, checked like POST /_fake/config", () => {
    const cli = parseCliConfig(["--outage", '{"kind":"server_error","status":503,"forMs":10000}'], {});
    expect(cli.patch).toEqual({ outage: { kind: "server_error", status: 503, forMs: 10000 } });
    expect(parseCliConfig([], { FAKE_OPENAI_OUTAGE: '{"kind":"hang"}' }).patch).toEqual({
      outage: { kind: "hang" },
    });
    expect(() => parseCliConfig(["--outage", '{"kind":"server_error","status":418}'], {})).toThrow(
      CliConfigError,
    );
  });

  it("reads the Batch API's time scale", () => {
    expect(parseCliConfig(["--batch-time-scale", "100"], {}).batches).toEqual({ time_scale: 100 });
    expect(parseCliConfig([], { FAKE_OPENAI_BATCH_TIME_SCALE: "60" }).batches).toEqual({ time_scale: 60 });
    expect(() => parseCliConfig(["--batch-time-scale", "0"], {})).toThrow(CliConfigError);
  });

  it("names env variables after flags", () => {
    expect(envName("timeout-rate")).toBe("FAKE_OPENAI_TIMEOUT_RATE");
  });

  it.each([[["--rpm", "lots"]], [["--error-rate", "2"]], [["--port", "70000"]], [["--unknown-flag", "1"]]])(
    "rejects %j",
    (argv) => {
      expect(() => parseCliConfig(argv, {})).toThrow(CliConfigError);
    },
  );
});
