import { describe, expect, it } from "vitest";
import { z } from "zod";
import { brokers, csv, int, json } from "./env-fields.ts";
import { ConfigError, parseEnv } from "./parse-env.ts";

const Env = z.object({
  PORT: int(0, 65_535).default(8080),
  BROKERS: brokers,
  MODELS: csv.optional(),
  LIMITS: json(z.record(z.string(), z.number()), '{"a":1}').optional(),
});

describe("parseEnv", () => {
  it("applies defaults, and treats an empty value as unset", () => {
    const e = parseEnv(Env, { BROKERS: "a:9092, b:9093,", PORT: "", MODELS: "x, ,y" });
    expect(e).toEqual({ PORT: 8080, BROKERS: ["a:9092", "b:9093"], MODELS: ["x", "y"] });
  });

  it("names every bad variable in one error", () => {
    let caught: unknown;
    try {
      parseEnv(Env, { PORT: "70000", BROKERS: "nohost", LIMITS: "{not json" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join("\n");
    expect(problems).toMatch(/^PORT:/m);
    expect(problems).toMatch(/^BROKERS\.0: must be host:port/m);
    expect(problems).toMatch(/^LIMITS: must be JSON like \{"a":1\}/m);
  });
});
