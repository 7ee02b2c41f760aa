/**
 * The one way chatq writes a batch of rows or records: in one round trip, and, when the batch is refused for a
 * reason that may be a single item's (a constraint, a value the database cannot hold, a record Kafka will never
 * take), item by item, so the item refused for good is set aside with its reason and the others are written.
 * One bad item never holds back its batch or stalls its partition. Outages are not refusals: the writers retry
 * them inside (retry-through-outage.ts) until they pass or the worker stops.
 */
export interface IsolateOptions<T, R> {
  /** Many items in one round trip. */
  writeAll: (items: readonly T[]) => Promise<R>;
  /** One item alone (default: writeAll of just it). */
  writeOne?: (item: T) => Promise<R>;
  /** Whether the batch's failure may be one item's fault, so writing them one by one can tell which. */
  isolates: (err: unknown) => boolean;
  /** Whether one item's failure is that item's for good (else the failure is thrown: an outage or a stop). */
  refuses: (err: unknown) => boolean;
  /** The item that was refused, with the reason. */
  onRefused: (item: T, err: unknown) => void | Promise<void>;
}

/** What was written: the whole batch, or each item alone. */
export type Written<T, R> = { items: readonly T[]; result: R }[];

export async function writeOrIsolate<T, R>(
  items: readonly T[],
  o: IsolateOptions<T, R>,
): Promise<Written<T, R>> {
  if (items.length === 0) return [];
  try {
    return [{ items, result: await o.writeAll(items) }];
  } catch (err) {
    if (items.length === 1 && o.refuses(err)) {
      await o.onRefused(items[0] as T, err);
      return [];
    }
    if (!o.isolates(err)) throw err;
  }
  const written: Written<T, R> = [];
  const writeOne = o.writeOne ?? ((item: T) => o.writeAll([item]));
  for (const item of items) {
    try {
      written.push({ items: [item], result: await writeOne(item) });
    } catch (err) {
      if (!o.refuses(err)) throw err;
      await o.onRefused(item, err);
    }
  }
  return written;
}
