import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ReloadOutcome, RouteSource, readRouteFile } from "./route-source.ts";
import { RouteTableError } from "./route-table.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "chatq-routes-"));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const yamlTable = (weightB: number) => `
version: v${weightB}
deployments:
  a: { model: gpt-4o-mini, base_url: "http://127.0.0.1:1/v1" }
  b: { model: gpt-4o-mini, base_url: "http://127.0.0.1:2/v1", limits: { rpm: 60, tpm: 60000 } }
routes:
  chat-default:
    variants:
      - { name: A, deployment: a, weight: ${100 - weightB} }
      - { name: B, deployment: b, weight: ${weightB} }
    fallbacks: [b]
`;

describe("route files", () => {
  it("reads YAML and JSON alike", () => {
    const fromYaml = readRouteFile(file("routes.yaml", yamlTable(10)));
    const fromJson = readRouteFile(file("routes.json", JSON.stringify(fromYaml)));
    expect(fromJson).toEqual(fromYaml);
    expect(fromYaml.routes["chat-default"]?.variants).toHaveLength(2);
  });

  it("names every problem of a bad file with its path", () => {
    const bad = file(
      "routes.json",
      JSON.stringify({
        deployments: { a: { model: "m", api_key_env: "sk-live-123" } },
        routes: { r: { variants: [{ name: "A", deployment: "nope", weight: 0 }] } },
      }),
    );
    let error: unknown;
    try {
      readRouteFile(bad);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RouteTableError);
    const problems = (error as RouteTableError).problems.join("\n");
    expect(problems).toContain("deployments.a.api_key_env: must be an environment variable name");
    expect(problems).toContain('routes.r.variants.0.deployment: unknown deployment "nope"');
    expect(problems).toContain("at least one variant needs a weight above 0");
  });

  it("refuses a broken file at reload with a clear message, and the old table keeps serving", () => {
    const path = file("routes.yaml", yamlTable(10));
    const seen: ReloadOutcome[] = [];
    const source = new RouteSource({ path, pollMs: 0, onReload: (o) => seen.push(o) });
    expect(source.current().version).toBe("v10");

    writeFileSync(path, yamlTable(20).replace("deployment: b", "deployment: missing"));
    const refused = source.reload();
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toContain('unknown deployment "missing"');
    expect(source.current().version).toBe("v10");

    writeFileSync(path, "routes: [unclosed");
    expect(source.reload().ok).toBe(false);
    expect(source.current().version).toBe("v10");

    writeFileSync(path, yamlTable(20));
    expect(source.reload()).toMatchObject({ ok: true, changed: true });
    expect(source.current().version).toBe("v20");
    expect(seen.map((o) => o.ok)).toEqual([false, false, true]);
    source.stop();
  });

  it("picks up a changed file by polling, without a restart", async () => {
    const path = file("routes.yaml", yamlTable(10));
    const reloaded = new Promise<ReloadOutcome>((resolve) => {
      const source = new RouteSource({
        path,
        pollMs: 20,
        onReload: (o) => {
          source.stop();
          resolve(o);
        },
      });
    });
    writeFileSync(path, yamlTable(30));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(await reloaded).toMatchObject({ ok: true, table: { version: "v30" } });
  });

  it("refuses to start on a broken file", () => {
    const path = file("routes.json", "{");
    expect(() => new RouteSource({ path, pollMs: 0, onReload: () => {} })).toThrow(/is not valid json/);
  });
});
