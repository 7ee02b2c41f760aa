import type { IncomingMessage, ServerResponse } from "node:http";
import { GatewayError } from "./gateway-error.ts";

/**
 * The body, up to `limit` bytes and within `timeoutMs` of the first byte of the request: a client trickling its
 * body (slow loris) gets a 408 instead of holding a connection and its memory.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > limit) {
    return Promise.reject(new GatewayError("payload_too_large", `the body is over ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      finish(new GatewayError("request_timeout", `the body did not arrive within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err: GatewayError | undefined) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      if (err === undefined) resolve(Buffer.concat(chunks, size));
      else {
        // Stop reading: what is left of an oversize or trickled body is not worth the bandwidth.
        req.pause();
        reject(err);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(new GatewayError("payload_too_large", `the body is over ${limit} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onError = () => finish(new GatewayError("request_timeout", "the client went away"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** JSON with a status; `close` ends the connection too (after an unread or trickled body). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: GatewayError): void {
  const headers: Record<string, string> = {};
  if (err.retryAfterSeconds !== undefined) headers["retry-after"] = String(err.retryAfterSeconds);
  // A body we stopped reading cannot be followed by another request on the same connection.
  if (err.code === "payload_too_large" || err.code === "request_timeout") headers.connection = "close";
  sendJson(res, err.status, err.body(), headers);
}

/** Headers on every response: no sniffing, no framing, no referrer, nothing cached; HSTS over TLS. */
export function securityHeaders(tls: boolean): Record<string, string> {
  const h: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy":
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  };
  if (tls) h["strict-transport-security"] = "max-age=31536000; includeSubDomains";
  return h;
}

/** CORS for the listed origins only (the chat page's, when served elsewhere); none listed = same origin only. */
export function corsHeaders(
  origin: string | undefined,
  allowed: ReadonlySet<string>,
): Record<string, string> {
  if (origin === undefined || !allowed.has(origin)) return {};
  return {
    "access-control-allow-origin": origin,
    vary: "origin",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "authorization, content-type, idempotency-key, x-chatq-conversation-id",
    "access-control-max-age": "600",
  };
}

/** The bearer token of `Authorization: Bearer …`, else undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}
