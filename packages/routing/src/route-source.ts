import { readFileSync, statSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { EMPTY_ROUTE_TABLE, parseRouteTable, type RouteTable, RouteTableError } from "./route-table.ts";

/** Reads and validates a route file: `.yaml`/`.yml` as YAML, anything else as JSON. Throws RouteTableError. */
export function readRouteFile(path: string): RouteTable {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new RouteTableError(path, [`cannot be read: ${(err as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = [".yaml", ".yml"].includes(extname(path)) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new RouteTableError(path, [
      `is not valid ${extname(path).slice(1) || "JSON"}: ${(err as Error).message}`,
    ]);
  }
  return parseRouteTable(parsed, path);
}

export type ReloadOutcome =
  | { ok: true; table: RouteTable; changed: boolean }
  | { ok: false; error: RouteTableError };

export interface RouteSourceOptions {
  /** Absent: no routes (every model name is a plain model). */
  path?: string | undefined;
  /** How often the file's mtime and size are checked; 0 = only reload() (SIGHUP). */
  pollMs: number;
  onReload: (outcome: ReloadOutcome) => void;
}

/**
 * The route table in force, reloaded without a restart. The file is polled (mtime + size) rather than watched:
 * fs.watch loses a file that an editor or a ConfigMap replaces by rename, and a poll every few seconds costs one
 * stat. A file that fails to read or validate is refused with every problem named, and the table already loaded
 * keeps serving. The first load throws instead: a worker must not start on a broken route file.
 */
export class RouteSource {
  readonly #o: RouteSourceOptions;
  #table: RouteTable;
  #stamp: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: RouteSourceOptions) {
    this.#o = opts;
    if (opts.path === undefined) {
      this.#table = EMPTY_ROUTE_TABLE;
      return;
    }
    this.#stamp = stampOf(opts.path);
    this.#table = readRouteFile(opts.path);
    if (opts.pollMs > 0) {
      this.#timer = setInterval(() => {
        if (this.#path !== undefined && stampOf(this.#path) !== this.#stamp) this.reload();
      }, opts.pollMs);
      this.#timer.unref();
    }
  }

  get #path(): string | undefined {
    return this.#o.path;
  }

  current(): RouteTable {
    return this.#table;
  }

  /** Reads the file again; on any problem the old table stays. */
  reload(): ReloadOutcome {
    const path = this.#path;
    if (path === undefined) return { ok: true, table: this.#table, changed: false };
    this.#stamp = stampOf(path);
    let outcome: ReloadOutcome;
    try {
      const table = readRouteFile(path);
      const changed = JSON.stringify(table) !== JSON.stringify(this.#table);
      this.#table = table;
      outcome = { ok: true, table, changed };
    } catch (err) {
      const error =
        err instanceof RouteTableError ? err : new RouteTableError(path, [(err as Error).message]);
      outcome = { ok: false, error };
    }
    this.#o.onReload(outcome);
    return outcome;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function stampOf(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return undefined;
  }
}
