import { describe, expect, it } from "vitest";
import { LocalKeyWrapper, parseMasterKey } from "./key-wrapper.ts";

describe("master key", () => {
  it("is 32 bytes of base64, or a bad_master_key error", () => {
    expect(parseMasterKey(`${Buffer.alloc(32, 1).toString("base64")}\n`)).toHaveLength(32);
    expect(() => parseMasterKey("c2hvcnQ=")).toThrow(expect.objectContaining({ code: "bad_master_key" }));
  });

  it("a data key wrapped by one master key does not unwrap with another: wrong_master_key", async () => {
    const a = new LocalKeyWrapper(Buffer.alloc(32, 1));
    const b = new LocalKeyWrapper(Buffer.alloc(32, 2));
    expect(a.masterId).not.toBe(b.masterId);
    const wrapped = await a.wrap(Buffer.alloc(32, 9), "k1");
    expect((await a.unwrap(wrapped, "k1")).equals(Buffer.alloc(32, 9))).toBe(true);
    await expect(b.unwrap(wrapped, "k1")).rejects.toMatchObject({ code: "wrong_master_key" });
  });
});
