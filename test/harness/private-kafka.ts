import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { type OwnedProcess, spawnOwned, tailOf, temporaryDir, waitUntilReady } from "./owned-process.ts";
import { freePort } from "./worker-process.ts";

// A single-node KRaft broker of the test's own, from the jars infra/local/stack-up.sh fetched, on free ports and a
// temp data dir: fault tests stop and restart it without touching the shared broker other engineers' tests use.

export interface PrivateKafka {
  /** `127.0.0.1:<port>`, for kafkajs and the worker's KAFKA_BROKERS. */
  readonly brokers: string[];
  readonly dataDir: string;
  /** The broker's log4j log (server.log); the JVM's own output is kafka.out beside it. */
  readonly logFile: string;
  /** "term": an orderly shutdown (SIGTERM). "kill": SIGKILL, a crash; its restart waits ~7 s for the old
   * registration to expire (broker.session.timeout.ms). Resolves once the process is gone. */
  stop(how?: "term" | "kill"): Promise<void>;
  /** Starts again on the same ports and data dir; resolves once the broker answers and every partition leads. */
  start(): Promise<void>;
  restart(how?: "term" | "kill"): Promise<void>;
  /** Kills the broker and deletes its data dir. */
  close(): Promise<void>;
}

export interface PrivateKafkaOptions {
  /** How long one start may take before it fails with the log tail. Default 60 s. */
  startTimeoutMs?: number;
  /** Extra server.properties lines (key → value), appended after the local stack's. */
  properties?: Record<string, string>;
}

const KAFKA_VERSION = "3.9.1";
const repoRoot = resolve(import.meta.dirname, "../..");
const localKafka = join(repoRoot, "infra/local/kafka");
const cacheDir = join(
  process.env.CHATQ_CACHE_DIR ?? join(homedir(), ".cache/chatq"),
  `kafka-${KAFKA_VERSION}`,
);
const jarsDir = join(cacheDir, "jars");
/** base64url of the 16 bytes "chatq-private-kr": every private broker is its own cluster, the id never matters. */
const CLUSTER_ID = "Y2hhdHEtcHJpdmF0ZS1rcg";
// The same JVM flags as stack-up.sh: a small heap, serial GC, C1 only (start-up beats peak speed here).
const JVM_OPTS = [
  "-Xms256m",
  "-Xmx768m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-Djava.awt.headless=true",
];

export async function startPrivateKafka(opts: PrivateKafkaOptions = {}): Promise<PrivateKafka> {
  if (!existsSync(join(jarsDir, ".complete"))) {
    throw new Error(
      `no Kafka jars in ${jarsDir}: run \`pnpm stack:up\` once (it fetches them from Maven Central)`,
    );
  }
  const java = javaBinary();
  const [port, controllerPort] = await twoFreePorts();
  const home = await mkdtemp(join(tmpdir(), "chatq-private-kafka-"));
  const removeHome = temporaryDir(home);
  const dataDir = join(home, "data");
  const logsDir = join(home, "logs");
  await mkdir(logsDir, { recursive: true });
  const logFile = join(logsDir, "server.log");
  const outFile = join(logsDir, "kafka.out");
  const propsFile = join(home, "server.properties");
  await writeFile(propsFile, await serverProperties(dataDir, port, controllerPort, opts.properties ?? {}));
  await copyFormattedDir(java, dataDir);

  const brokers = [`127.0.0.1:${port}`];
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  let proc: OwnedProcess | undefined;
  let closed = false;

  const stop = async (how: "term" | "kill" = "term") => {
    const p = proc;
    if (!p?.alive()) return;
    p.signal(how === "term" ? "SIGTERM" : "SIGKILL");
    // An orderly stop that hangs (a stuck controller) must not hang the test: it becomes a kill.
    const killer = setTimeout(() => p.signal("SIGKILL"), 20_000);
    await p.exited;
    clearTimeout(killer);
  };

  const start = async () => {
    if (closed) throw new Error("this private Kafka is closed");
    if (proc?.alive()) return;
    const cds = await cdsOptions(java);
    const started = spawnOwned(
      java,
      [
        ...JVM_OPTS,
        ...cds.flags,
        `-Dkafka.logs.dir=${logsDir}`,
        `-Dlog4j.configuration=file:${join(localKafka, "log4j.properties")}`,
        "-cp",
        `${jarsDir}/*`,
        "kafka.Kafka",
        propsFile,
      ],
      { outputFile: outFile },
    );
    proc = started;
    // The first broker to stop cleanly leaves the class-data archive that makes every later start ~2x faster.
    void started.exited.then(() => cds.afterExit());
    try {
      await waitUntilReady(
        started,
        () => brokerReady(brokers),
        startTimeoutMs,
        (problem) =>
          [
            `private Kafka on ${brokers[0]} ${problem}.`,
            `---- ${logFile} (last lines):`,
            tailOf(logFile, 25),
            `---- ${outFile} (last lines):`,
            tailOf(outFile, 15),
          ].join("\n"),
      );
    } catch (err) {
      await stop("kill");
      throw err;
    }
  };

  // A broker that never came up still leaves nothing behind.
  await start().catch(async (err: unknown) => {
    await removeHome();
    throw err;
  });
  return {
    brokers,
    dataDir,
    logFile,
    stop,
    start,
    async restart(how = "term") {
      await stop(how);
      await start();
    },
    async close() {
      closed = true;
      await stop("kill");
      await removeHome();
    },
  };
}

function javaBinary(): string {
  const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin/java") : undefined;
  return fromHome !== undefined && existsSync(fromHome) ? fromHome : "java";
}

async function twoFreePorts(): Promise<[number, number]> {
  const a = await freePort();
  for (;;) {
    const b = await freePort();
    if (b !== a) return [a, b];
  }
}

/** The local stack's server.properties with this broker's ports and data dir. */
async function serverProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  extra: Record<string, string>,
): Promise<string> {
  const template = await readFile(join(localKafka, "server.properties"), "utf8");
  const text = template
    .replaceAll("@DATA_DIR@", dataDir)
    .replaceAll("127.0.0.1:9092", `127.0.0.1:${port}`)
    .replaceAll("127.0.0.1:9093", `127.0.0.1:${controllerPort}`);
  if (text.includes(":9092") || text.includes(":9093")) {
    throw new Error(
      "infra/local/kafka/server.properties names ports private-kafka.ts does not know how to move",
    );
  }
  const lines = Object.entries(extra).map(([k, v]) => `${k}=${v}`);
  return `${text}\n# private-kafka.ts\n${lines.join("\n")}\n`;
}

/**
 * A formatted data dir, made once per jar set (StorageTool costs a JVM start, ~0.9 s) and copied for each broker.
 * What formatting writes (cluster id, node id, metadata version) does not depend on ports or paths.
 */
async function copyFormattedDir(java: string, dataDir: string): Promise<void> {
  const jarsKey = await readFile(join(jarsDir, ".complete"), "utf8");
  const key = createHash("sha256").update(`${jarsKey}${CLUSTER_ID}`).digest("hex").slice(0, 12);
  const template = join(cacheDir, `private-kafka-formatted-${key}`);
  if (!existsSync(join(template, "meta.properties"))) {
    const scratch = await mkdtemp(join(cacheDir, "private-kafka-format-"));
    const props = join(scratch, "server.properties");
    const dir = join(scratch, "data");
    await writeFile(props, await serverProperties(dir, 1, 2, {}));
    try {
      execFileSync(
        java,
        [
          "-Xmx256m",
          "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1",
          `-Dlog4j.configuration=file:${join(localKafka, "log4j.properties")}`,
          `-Dkafka.logs.dir=${scratch}`,
          "-cp",
          `${jarsDir}/*`,
          "kafka.tools.StorageTool",
          "format",
          "-t",
          CLUSTER_ID,
          "-c",
          props,
          "--ignore-formatted",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      // Another test file may have won the race: either copy is as good.
      await rename(dir, template).catch(() => undefined);
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
      throw new Error(`formatting a private Kafka data dir failed: ${e.stderr?.toString() ?? e.message}`);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  await cp(template, dataDir, { recursive: true });
}

/**
 * AppCDS, as stack-up.sh does it and under the same name, so either can make the archive the other maps. Without
 * an archive this start records one into a file of its own, renamed into place once the JVM wrote it at a clean
 * exit (a killed JVM writes nothing; a half-written archive must never be mapped). CHATQ_KAFKA_CDS=0 turns it off.
 */
async function cdsOptions(java: string): Promise<{ flags: string[]; afterExit: () => Promise<void> }> {
  const none = { flags: [], afterExit: async () => {} };
  if (process.env.CHATQ_KAFKA_CDS === "0") return none;
  const key = execFileSync(
    "bash",
    [
      "-c",
      '{ readlink -f "$(command -v "$0")"; "$0" -version 2>&1; cat "$1/.complete"; } | sha256sum | cut -c1-12',
      java,
      jarsDir,
    ],
    { encoding: "utf8" },
  ).trim();
  const archive = join(cacheDir, `kafka-cds-${key}.jsa`);
  const quiet = ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"];
  if (existsSync(archive))
    return { flags: [`-XX:SharedArchiveFile=${archive}`, ...quiet], afterExit: none.afterExit };
  // Not kafka-cds-*.jsa: stack-up.sh deletes those when it starts without an archive.
  const recording = join(cacheDir, `private-kafka-cds-${process.pid}-${Date.now()}.jsa.part`);
  return {
    flags: [`-XX:ArchiveClassesAtExit=${recording}`, ...quiet],
    afterExit: async () => {
      if (existsSync(recording) && !existsSync(archive))
        await rename(recording, archive).catch(() => undefined);
      await rm(recording, { force: true });
    },
  };
}

/** Ready = it speaks Kafka (ApiVersions), lists itself as a live broker, and every partition has a leader. */
async function brokerReady(brokers: string[]): Promise<boolean> {
  const [host, port] = (brokers[0] ?? "").split(":");
  if (!(await answersApiVersions(host ?? "127.0.0.1", Number(port)))) return false;
  const kafka = new Kafka({
    brokers,
    clientId: "private-kafka-readiness",
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) return false;
    const topics = await admin.listTopics();
    if (topics.length === 0) return true;
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
    return metadata.every((t) => t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** An ApiVersions v0 request; true when the reply carries our correlation id and error code 0. */
function answersApiVersions(host: string, port: number): Promise<boolean> {
  // size=14 | api_key=18 | api_version=0 | correlation_id=7 | client_id="chtq"
  const request = Buffer.from([0, 0, 0, 14, 0, 18, 0, 0, 0, 0, 0, 7, 0, 4, 0x63, 0x68, 0x74, 0x71]);
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    let reply = Buffer.alloc(0);
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length >= 10) finish(reply.readInt32BE(4) === 7 && reply.readInt16BE(8) === 0);
    });
  });
}
