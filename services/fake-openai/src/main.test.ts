import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

describe("standalone server (src/main.ts)", () => {
  it("prints one listening line, answers, and exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, [MAIN, "--port", "0", "--api-key", "sk-cli-test-9876"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    const [first] = (await once(lines, "line")) as [string];
    const listening = JSON.parse(first) as { event: string; url: string };
    expect(listening.event).toBe("listening");

    const response = await fetch(`${listening.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-cli-test-9876", "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);

    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });
});
