import "@chatq/kafka"; // registers chatq's codecs into kafkajs first
import kafkajs from "kafkajs";

const NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/**
 * Counts the record batches this process's kafkajs clients decompress, per codec: kafkajs looks a batch's codec up
 * (calling its factory) once per compressed batch, so the counts say which codecs were really on the wire.
 */
export function spyOnCodecs(): { counts: Record<string, number>; restore(): void } {
  const codecs = kafkajs.CompressionCodecs as Record<number, () => unknown>;
  const counts: Record<string, number> = {};
  const originals = new Map<number, () => unknown>();
  for (let id = 1; id < NAMES.length; id++) {
    const original = codecs[id];
    if (!original) continue;
    originals.set(id, original);
    const name = NAMES[id] as string;
    codecs[id] = () => {
      counts[name] = (counts[name] ?? 0) + 1;
      return original();
    };
  }
  return {
    counts,
    restore() {
      for (const [id, original] of originals) codecs[id] = original;
    },
  };
}
