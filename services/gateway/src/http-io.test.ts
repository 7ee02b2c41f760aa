import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { GatewayError } from "./gateway-error.ts";
import { bearerToken, corsHeaders, readBody } from "./http-io.ts";

function request(headers: Record<string, string> = {}): IncomingMessage & PassThrough {
  return Object.assign(new PassThrough(), { headers }) as unknown as IncomingMessage & PassThrough;
}

describe("readBody", () => {
  it("returns the body within the limit", async () => {
    const req = request();
    const body = readBody(req, 10, 1000);
    req.end("0123456789");
    expect((await body).toString()).toBe("0123456789");
  });

  it("refuses a declared or streamed body over the limit with 413", async () => {
    await expect(readBody(request({ "content-length": "11" }), 10, 1000)).rejects.toMatchObject({
      status: 413,
    });
    const req = request();
    const body = readBody(req, 10, 1000);
    req.write("012345");
    req.write("6789ab");
    await expect(body).rejects.toMatchObject({ code: "payload_too_large" });
  });

  it("refuses a body that does not arrive in time with 408", async () => {
    const req = request();
    const body = readBody(req, 10, 20);
    req.write("01");
    await expect(body).rejects.toBeInstanceOf(GatewayError);
    await expect(body).rejects.toMatchObject({ status: 408 });
  });
});

describe("headers", () => {
  it("reads a bearer token and nothing else", () => {
    expect(bearerToken(request({ authorization: "Bearer cq_x" }))).toBe("cq_x");
    expect(bearerToken(request({ authorization: "Basic abc" }))).toBeUndefined();
    expect(bearerToken(request())).toBeUndefined();
  });

  it("allows CORS only for listed origins", () => {
    const allowed = new Set(["https://chat.example"]);
    expect(corsHeaders("https://chat.example", allowed)["access-control-allow-origin"]).toBe(
      "https://chat.example",
    );
    expect(corsHeaders("https://evil.example", allowed)).toEqual({});
  });
});
