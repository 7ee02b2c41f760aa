import type { Kafka } from "@chatq/kafka";
import { ensureTopics } from "@chatq/kafka";
import type pg from "pg";
import { gatewayPool } from "./gateway-pool.ts";

export interface InstanceRegistryOptions {
  instanceId: string;
  replyTopic: string;
  /** Only topics under this prefix are ever deleted. */
  replyTopicPrefix: string;
  /** A replica silent for longer is gone: its row and reply topic are reaped. */
  ttlMs: number;
  databaseUrl: string;
  schema: string | undefined;
  onError: (err: unknown) => void;
}

/** How long replies stay on a replica's topic: far past any reply timeout, so the topic never grows for long. */
const REPLY_RETENTION_MS = 60 * 60_000;

/**
 * This replica's reply topic and its row in gateway_instances. The topic is created at start and deleted at a
 * clean stop; a heartbeat keeps the row fresh, and every replica reaps the rows and topics of replicas that stopped
 * heartbeating (crashed, SIGKILLed) for longer than the TTL. So replicas that come and go leave nothing that grows.
 */
export class InstanceRegistry {
  readonly #opts: InstanceRegistryOptions;
  readonly #kafka: Kafka;
  readonly #pool: pg.Pool;
  #timer: NodeJS.Timeout | undefined;

  constructor(kafka: Kafka, opts: InstanceRegistryOptions) {
    this.#opts = opts;
    this.#kafka = kafka;
    this.#pool = gatewayPool({ ...opts, max: 1, name: "instances" });
  }

  async start(): Promise<void> {
    await this.#pool.query(
      `insert into gateway_instances (instance_id, reply_topic) values ($1, $2)
       on conflict (instance_id) do update set seen_at = now()`,
      [this.#opts.instanceId, this.#opts.replyTopic],
    );
    await ensureTopics(this.#kafka, [{ name: this.#opts.replyTopic, partitions: 1 }]);
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2, // TOPIC
            name: this.#opts.replyTopic,
            configEntries: [{ name: "retention.ms", value: String(REPLY_RETENTION_MS) }],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const beat = Math.max(1_000, Math.floor(this.#opts.ttlMs / 4));
    this.#timer = setInterval(() => void this.heartbeat().catch(this.#opts.onError), beat);
    this.#timer.unref();
    void this.reap().catch(this.#opts.onError);
  }

  async heartbeat(): Promise<void> {
    await this.#pool.query("update gateway_instances set seen_at = now() where instance_id = $1", [
      this.#opts.instanceId,
    ]);
    await this.reap();
  }

  /** Deletes the topics and rows of replicas silent for longer than the TTL. Returns the topics deleted. */
  async reap(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ instance_id: string; reply_topic: string }>(
      `select instance_id, reply_topic from gateway_instances
       where seen_at < now() - make_interval(secs => $1::double precision / 1000) and instance_id <> $2`,
      [this.#opts.ttlMs, this.#opts.instanceId],
    );
    const topics = rows.map((r) => r.reply_topic).filter((t) => t.startsWith(this.#opts.replyTopicPrefix));
    if (topics.length > 0) await this.#deleteTopics(topics);
    if (rows.length > 0) {
      await this.#pool.query("delete from gateway_instances where instance_id = any($1)", [
        rows.map((r) => r.instance_id),
      ]);
    }
    return topics;
  }

  /** A clean stop: no reply can come for this replica any more. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    try {
      await this.#deleteTopics([this.#opts.replyTopic]);
      await this.#pool.query("delete from gateway_instances where instance_id = $1", [this.#opts.instanceId]);
    } finally {
      await this.#pool.end();
    }
  }

  async #deleteTopics(topics: string[]): Promise<void> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 5_000 });
    } finally {
      await admin.disconnect();
    }
  }
}
