import { type Kafka, readLag } from "@chatq/kafka";
import type { ChatqMetrics, Logger } from "@chatq/telemetry";

export interface LagMonitorOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  /** Only partitions this member owns are its to report; the others' owners report theirs. */
  owns: (partition: number) => boolean;
  intervalMs: number;
  metrics: ChatqMetrics;
  log: Logger;
}

/**
 * Refreshes the consumer-lag gauge (high watermark − committed offset) on a timer, not only while messages flow:
 * a stuck worker must show its growing lag, which is what the "no progress while lag grows" alert watches.
 */
export async function startLagMonitor(
  o: LagMonitorOptions,
): Promise<{ forget(partition: number): void; stop(): Promise<void> }> {
  const admin = o.kafka.admin();
  await admin.connect();
  const refresh = async () => {
    try {
      for (const p of await readLag(admin, o.groupId, o.topic)) {
        if (o.owns(p.partition))
          o.metrics.consumerLag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    } catch (err) {
      o.metrics.kafkaErrors.inc({ operation: "lag" });
      o.log.warn({ err }, "lag refresh failed");
    }
  };
  const timer = setInterval(() => void refresh(), o.intervalMs);
  return {
    forget: (partition) => {
      o.metrics.consumerLag.remove({ topic: o.topic, partition: String(partition) });
    },
    async stop() {
      clearInterval(timer);
      await admin.disconnect().catch(() => undefined);
    },
  };
}
