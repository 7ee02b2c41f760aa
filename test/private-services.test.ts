import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { startPrivatePostgres } from "./harness/private-postgres.ts";
import { startPrivateRedis } from "./harness/private-redis.ts";

// The harnesses fault tests stop and restart: each restart is on the same port, Postgres keeps its data through
// both kinds of stop, Redis comes back empty (no persistence), and close() leaves nothing behind.

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("a private Postgres", () => {
  it("keeps its port and data through a fast and an immediate stop, and is gone after close()", async () => {
    const db = await startPrivatePostgres();
    try {
      await query(db.databaseUrl, "create table kept (v text); insert into kept values ('before')");
      await db.stop("fast");
      await expect(query(db.databaseUrl, "select 1")).rejects.toThrow(/ECONNREFUSED/);
      await db.start();
      await query(db.databaseUrl, "insert into kept values ('after-fast')");
      await db.restart("immediate");
      expect(await query(db.databaseUrl, "select v from kept order by v")).toEqual([
        { v: "after-fast" },
        { v: "before" },
      ]);
    } finally {
      await db.close();
    }
    expect(existsSync(db.dataDir)).toBe(false);
    await expect(query(db.databaseUrl, "select 1")).rejects.toThrow(/ECONNREFUSED/);
  });

  it("an immediate stop ends the sessions of connected clients", async () => {
    const db = await startPrivatePostgres();
    const client = new pg.Client({ connectionString: db.databaseUrl });
    const lost = new Promise<Error>((r) => client.on("error", r));
    try {
      await client.connect();
      await db.stop("immediate");
      expect((await lost).message).toMatch(/terminat/i);
    } finally {
      await client.end().catch(() => undefined);
      await db.close();
    }
  });
});

describe("a private Redis", () => {
  it("restarts empty on the same port, and is gone after close()", async () => {
    const redis = await startPrivateRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.set("k", "v");
      await redis.stop("kill");
      await redis.start();
      // The same client reconnects by itself to the same port, and finds nothing (no persistence).
      expect(await client.get("k")).toBeNull();
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
      await redis.close();
    }
    const port = Number(new URL(redis.url).port);
    const refused = await new Promise<string>((done) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => done("connected"));
      socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? "error"));
    });
    expect(refused).toBe("ECONNREFUSED");
  });
});
