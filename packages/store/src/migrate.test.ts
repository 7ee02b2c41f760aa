import { describe, expect, it } from "vitest";
import { checksum, MigrationError, migrationFiles, pendingMigrations } from "./migrate.ts";

describe("migrationFiles", () => {
  it("orders by version and ignores dotfiles and a README", () => {
    expect(
      migrationFiles(["0002_usage.sql", ".keep", "0001_init.sql", "README.md"]).map((f) => f.name),
    ).toEqual(["0001_init", "0002_usage"]);
  });

  it.each([["1_init.sql"], ["0001-init.sql"], ["0001_Init.sql"], ["notes.txt"]])("refuses %s", (name) => {
    expect(() => migrationFiles([name])).toThrow(MigrationError);
  });

  it("refuses two files with one version", () => {
    expect(() => migrationFiles(["0001_a.sql", "0001_b.sql"])).toThrow(/appears twice/);
  });
});

describe("pendingMigrations", () => {
  const files = migrationFiles(["0001_init.sql", "0002_more.sql"]).map((f) => ({
    ...f,
    checksum: checksum(f.file),
  }));

  it("returns the versions not applied yet", () => {
    expect(pendingMigrations(files, new Map()).map((f) => f.version)).toEqual(["0001", "0002"]);
    expect(
      pendingMigrations(files, new Map([["0001", checksum("0001_init.sql")]])).map((f) => f.version),
    ).toEqual(["0002"]);
  });

  it("refuses when an applied file changed", () => {
    const err = (() => {
      try {
        pendingMigrations(files, new Map([["0001", "something else"]]));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: "checksum_mismatch", retryable: false });
  });
});
