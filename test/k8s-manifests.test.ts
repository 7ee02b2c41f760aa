import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { isAllowedReplyTopic } from "@chatq/contracts";
import { GATEWAY_ENV_KEYS, GATEWAY_HARD_STOP_MS, loadConfig as loadGatewayConfig } from "@chatq/gateway";
import { HARD_STOP_GRACE_MS, loadConfig as loadWorkerConfig, WORKER_ENV_KEYS } from "@chatq/worker";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

// infra/k8s read the way `kubectl apply -k` would, and checked against the code it deploys: every variable is one
// the service reads and the whole set passes its own config parser; ports, probes and the grace period match what
// the process does; the autoscaler's target, group and topic are the worker's. No cluster is needed.

const root = resolve(import.meta.dirname, "..");
const dir = join(root, "infra/k8s");

interface Manifest<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Spec;
  data?: Record<string, string>;
}
type Labels = Record<string, string>;
interface DeploymentSpec {
  selector: { matchLabels: Labels };
  template: {
    metadata: { labels: Labels };
    spec: { terminationGracePeriodSeconds: number; containers: Container[] };
  };
}
interface SelectorSpec {
  selector: { matchLabels?: Labels } & Labels;
}
interface ScaledObjectSpec {
  scaleTargetRef: { name: string };
  minReplicaCount: number;
  maxReplicaCount: number;
  triggers: { type: string; metadata: Record<string, string> }[];
}

const kustomization = parseAllDocuments(
  readFileSync(join(dir, "kustomization.yaml"), "utf8"),
)[0]?.toJSON() as {
  resources: string[];
};
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((d) => d.toJSON() as Manifest),
);
/** The manifest of that kind and name; the caller names the shape of its spec, which the checks then verify. */
function find<Spec = unknown>(kind: string, name: string): Manifest<Spec> {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`infra/k8s has no ${kind} ${name}`);
  return m as Manifest<Spec>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  startupProbe?: { httpGet: { path: string; port: string | number } };
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  readinessProbe?: { httpGet: { path: string; port: string | number } };
}

/** The environment a container gets: ConfigMap entries, literal values, and placeholders for secrets and fields. */
function environmentOf(container: Container): Record<string, string> {
  const fromMaps = (container.envFrom ?? []).flatMap((source) =>
    source.configMapRef ? Object.entries(find("ConfigMap", source.configMapRef.name).data ?? {}) : [],
  );
  const direct = (container.env ?? []).map((e): [string, string] => {
    if (e.valueFrom?.secretKeyRef) return [e.name, SECRET_STAND_INS[e.name] ?? "secret"];
    if (e.valueFrom?.fieldRef) return [e.name, "chatq-pod-7d9f8c6b5-abcde"];
    return [e.name, e.value ?? ""];
  });
  return Object.fromEntries([...fromMaps, ...direct]);
}

// What the Secrets would hold, so each service's parser sees well-formed values.
const SECRET_STAND_INS: Record<string, string> = {
  OPENAI_API_KEY: "sk-stand-in",
  DATABASE_URL: "postgres://chatq:password@postgres:5432/chatq",
  GATEWAY_KEY_PEPPER: "a-pepper-of-sixteen-or-more",
  CHATQ_MASTER_KEY: Buffer.alloc(32, 7).toString("base64"),
};

/** What each deployed service is, as its own code says. */
interface DeployedService {
  deployment: string;
  image: string;
  envKeys: readonly string[];
  /** Parses the environment as the process would (throws on a bad one) and returns what the checks need. */
  parse: (env: Record<string, string>) => { port: number; drainMs: number };
  portName: string;
  /** The source file that serves /healthz and /readyz. */
  server: string;
}

const SERVICES: DeployedService[] = [
  {
    deployment: "chatq-worker",
    image: "chatq-worker",
    envKeys: WORKER_ENV_KEYS,
    parse: (env) => {
      const c = loadWorkerConfig(env);
      return { port: c.telemetry.port, drainMs: c.worker.shutdownTimeoutMs + HARD_STOP_GRACE_MS };
    },
    portName: "metrics",
    server: "packages/telemetry/src/telemetry-server.ts",
  },
  {
    deployment: "chatq-gateway",
    image: "chatq-gateway",
    envKeys: GATEWAY_ENV_KEYS,
    parse: (env) => ({ port: loadGatewayConfig(env).http.port, drainMs: GATEWAY_HARD_STOP_MS }),
    portName: "http",
    server: "services/gateway/src/gateway-app.ts",
  },
];

function deployed(service: DeployedService) {
  const deployment = find<DeploymentSpec>("Deployment", service.deployment);
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0] as Container;
  return { deployment, pod, container, env: environmentOf(container) };
}

const worker = deployed(SERVICES[0] as DeployedService);

describe("Kubernetes manifests (infra/k8s)", () => {
  it("kustomization lists every manifest file in the folder, and each exists", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const f of kustomization.resources) expect(existsSync(join(dir, f))).toBe(true);
  });

  describe.each(SERVICES)("$deployment", (service) => {
    const { deployment, pod, container, env } = deployed(service);

    it("runs the image infra/docker/Dockerfile builds for its service", () => {
      // `docker build --build-arg SERVICE=<name> -t chatq-<name>` (Dockerfile header); kustomize retags it.
      const name = service.image.replace(/^chatq-/, "");
      expect(existsSync(join(root, `services/${name}/src/main.ts`))).toBe(true);
      expect(container.image).toBe(service.image);
    });

    it("names only variables the service reads, and the service's own parser accepts them", () => {
      expect(Object.keys(env).filter((k) => !service.envKeys.includes(k))).toEqual([]);
      expect(() => service.parse(env)).not.toThrow();
      // Secrets stay out of ConfigMaps.
      for (const source of container.envFrom ?? []) {
        const data = source.configMapRef ? (find("ConfigMap", source.configMapRef.name).data ?? {}) : {};
        for (const secret of Object.keys(SECRET_STAND_INS)) expect(data).not.toHaveProperty(secret);
      }
    });

    it("probes /healthz and /readyz on the port the service listens on", () => {
      const port = container.ports?.find((p) => p.name === service.portName);
      expect(port?.containerPort).toBe(service.parse(env).port);
      const on = (path: string) => ({ path, port: service.portName });
      expect(container.startupProbe?.httpGet).toEqual(on("/healthz"));
      expect(container.livenessProbe?.httpGet).toEqual(on("/healthz"));
      expect(container.readinessProbe?.httpGet).toEqual(on("/readyz"));
      const source = readFileSync(join(root, service.server), "utf8");
      for (const path of ["/healthz", "/readyz", "/metrics"]) expect(source).toContain(`"${path}"`);
    });

    it("gives a stopping pod longer than the service's own drain and hard stop, so none is SIGKILLed mid-drain", () => {
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(service.parse(env).drainMs);
    });

    it("has a PodDisruptionBudget and a Service that select its pods", () => {
      const podLabels = deployment.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) expect(podLabels[k]).toBe(v);
      const selecting = manifests.filter(
        (m) =>
          (m.kind === "PodDisruptionBudget" || m.kind === "Service") &&
          m.metadata.name.startsWith(service.deployment),
      ) as Manifest<SelectorSpec>[];
      expect(selecting.map((m) => m.kind).sort()).toEqual(["PodDisruptionBudget", "Service"]);
      for (const m of selecting) {
        const selector = m.spec.selector.matchLabels ?? m.spec.selector;
        expect(Object.entries(selector).length).toBeGreaterThan(0);
        for (const [k, v] of Object.entries(selector)) expect(podLabels[k], `${m.kind} selects ${k}`).toBe(v);
      }
    });
  });

  it("the workers allow the reply topic of every gateway pod", () => {
    const gateway = loadGatewayConfig(deployed(SERVICES[1] as DeployedService).env);
    const workerConfig = loadWorkerConfig(worker.env);
    // The pod's own topic, with GATEWAY_INSTANCE_ID from the pod name.
    expect(gateway.topics.replyTopic).toBe(`${gateway.topics.replyTopicPrefix}chatq-pod-7d9f8c6b5-abcde`);
    expect(isAllowedReplyTopic(gateway.topics.replyTopic, workerConfig.topics.allowedReplyTopics)).toBe(true);
    expect(gateway.topics.requests).toBe(workerConfig.topics.requests);
  });

  it("KEDA scales the worker on its own group's lag of its own topic, never past the partitions", () => {
    const scaled = find<ScaledObjectSpec>("ScaledObject", "chatq-worker");
    expect(scaled.spec.scaleTargetRef.name).toBe(worker.deployment.metadata.name);
    const config = loadWorkerConfig(worker.env);
    const trigger = scaled.spec.triggers[0];
    expect(trigger?.type).toBe("kafka");
    expect(trigger?.metadata.consumerGroup).toBe(config.kafka.groupId);
    expect(trigger?.metadata.topic).toBe(config.topics.requests);
    expect(trigger?.metadata.bootstrapServers?.split(",")).toEqual(config.kafka.brokers);
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(scaled.spec.maxReplicaCount).toBeGreaterThanOrEqual(scaled.spec.minReplicaCount);
    // A replica without a partition only waits.
    expect(scaled.spec.maxReplicaCount).toBeLessThanOrEqual(config.topics.partitions);
  });
});
