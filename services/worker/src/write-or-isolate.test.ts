import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { writeOrIsolate } from "./write-or-isolate.ts";

class Refused extends Error {}
class Outage extends Error {}

describe("writeOrIsolate", () => {
  it("writes a good batch in one round trip", async () => {
    const calls: number[][] = [];
    const written = await writeOrIsolate([1, 2, 3], {
      writeAll: async (xs) => {
        calls.push([...xs]);
        return xs.length;
      },
      isolates: () => true,
      refuses: () => true,
      onRefused: () => {},
    });
    expect(calls).toEqual([[1, 2, 3]]);
    expect(written).toEqual([{ items: [1, 2, 3], result: 3 }]);
  });

  it("sets aside exactly the refused items, whatever their number and place, and writes all the others", () => {
    fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ id: fc.nat(), bad: fc.boolean() }), { minLength: 1, maxLength: 30 }),
        async (items) => {
          const stored: number[] = [];
          const refused: number[] = [];
          await writeOrIsolate(items, {
            writeAll: async (xs) => {
              if (xs.some((x) => x.bad)) throw new Refused();
              stored.push(...xs.map((x) => x.id));
            },
            isolates: (err) => err instanceof Refused,
            refuses: (err) => err instanceof Refused,
            onRefused: (x) => {
              refused.push(x.id);
            },
          });
          expect(stored).toEqual(items.filter((x) => !x.bad).map((x) => x.id));
          expect(refused).toEqual(items.filter((x) => x.bad).map((x) => x.id));
        },
      ),
    );
  });

  it("an outage is not a refusal: it is thrown, and nothing is set aside", async () => {
    const refused: number[] = [];
    await expect(
      writeOrIsolate([1, 2], {
        writeAll: async () => {
          throw new Outage();
        },
        isolates: (err) => err instanceof Refused,
        refuses: (err) => err instanceof Refused,
        onRefused: (x) => {
          refused.push(x);
        },
      }),
    ).rejects.toBeInstanceOf(Outage);
    expect(refused).toEqual([]);
  });
});
