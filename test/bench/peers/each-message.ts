// Peer 1 of `pnpm bench peers`: what most teams write first. kafkajs eachMessage, one message at a time per
// partition (kafkajs runs partitions one after another unless told otherwise), the official openai SDK with its
// default retries, the reply produced, offsets auto-committed by kafkajs.
import { Kafka } from "kafkajs";
import OpenAI from "openai";

const env = process.env;
const kafka = new Kafka({ clientId: "peer-each-message", brokers: (env.KAFKA_BROKERS ?? "").split(",") });
const openai = new OpenAI({ apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL });
const producer = kafka.producer();
const consumer = kafka.consumer({
  groupId: env.GROUP_ID ?? "peer-each-message",
  sessionTimeout: Number(env.SESSION_TIMEOUT_MS ?? 30_000),
});

await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: env.TOPIC_REQUESTS ?? "", fromBeginning: true });
await consumer.run({
  partitionsConsumedConcurrently: Number(env.PARTITIONS ?? 1),
  eachMessage: async ({ message }) => {
    const request = JSON.parse(message.value?.toString() ?? "{}");
    const started = Date.now();
    const completion = await openai.chat.completions.create(
      {
        model: request.model ?? "gpt-4o-mini",
        messages: request.messages,
        max_tokens: request.params?.max_tokens,
      },
      // OpenAI's tracing header: the request can be found in its logs (and the fake counts calls by it).
      { headers: { "X-Client-Request-Id": request.request_id } },
    );
    const reply = {
      request_id: request.request_id,
      conversation_id: request.conversation_id,
      status: "completed",
      content: completion.choices[0]?.message.content,
      api_ms: Date.now() - started,
    };
    await producer.send({
      topic: env.TOPIC_REPLIES ?? "",
      messages: [{ key: message.key, value: JSON.stringify(reply) }],
    });
  },
});
process.on("SIGTERM", async () => {
  await consumer.disconnect();
  await producer.disconnect();
  process.exit(0);
});
