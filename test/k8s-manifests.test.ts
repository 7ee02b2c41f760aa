import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HARD_STOP_GRACE_MS, loadConfig, WORKER_ENV_KEYS } from "@chatq/worker";
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
    if (e.valueFrom?.fieldRef) return [e.name, "chatq-worker-7d9f-abcde"];
    return [e.name, e.value ?? ""];
  });
  return Object.fromEntries([...fromMaps, ...direct]);
}

// What the Secret would hold, so the worker's parser sees well-formed values.
const SECRET_STAND_INS: Record<string, string> = {
  OPENAI_API_KEY: "sk-stand-in",
  DATABASE_URL: "postgres://chatq:password@postgres:5432/chatq",
};

const worker = find<DeploymentSpec>("Deployment", "chatq-worker");
const workerPod = worker.spec.template.spec;
const workerContainer = workerPod.containers[0] as Container;
const workerEnv = environmentOf(workerContainer);

describe("Kubernetes manifests (infra/k8s)", () => {
  it("kustomization lists every manifest file in the folder, and each exists", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const f of kustomization.resources) expect(existsSync(join(dir, f))).toBe(true);
  });

  it("the worker's image is the one infra/docker/Dockerfile builds for services/worker", () => {
    // `docker build --build-arg SERVICE=worker -t chatq-worker` (Dockerfile header); kustomize retags it.
    expect(readFileSync(join(root, "infra/docker/Dockerfile"), "utf8")).toContain("SERVICE=worker");
    expect(workerContainer.image).toBe("chatq-worker");
  });

  it("the worker's environment names only variables the worker reads, and the worker's own parser accepts it", () => {
    expect(Object.keys(workerEnv).filter((k) => !WORKER_ENV_KEYS.includes(k))).toEqual([]);
    const config = loadConfig(workerEnv);
    expect(config.kafka.brokers.length).toBeGreaterThan(0);
    // Secrets stay out of the ConfigMap.
    const configMap = find("ConfigMap", "chatq-worker-config").data ?? {};
    for (const secret of Object.keys(SECRET_STAND_INS)) expect(configMap).not.toHaveProperty(secret);
  });

  it("probes hit /healthz and /readyz on the port the worker serves metrics on", () => {
    const port = workerContainer.ports?.find((p) => p.name === "metrics");
    expect(port?.containerPort).toBe(loadConfig(workerEnv).telemetry.port);
    expect(workerContainer.startupProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(workerContainer.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(workerContainer.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    const server = readFileSync(join(root, "packages/telemetry/src/telemetry-server.ts"), "utf8");
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect(server).toContain(`"${path}"`);
  });

  it("the grace period outlasts the worker's drain and hard stop, so Kubernetes never SIGKILLs a draining worker", () => {
    const drainMs = loadConfig(workerEnv).worker.shutdownTimeoutMs + HARD_STOP_GRACE_MS;
    expect(workerPod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs);
  });

  it("the PodDisruptionBudget and the metrics Service select the worker's pods", () => {
    const podLabels = worker.spec.template.metadata.labels;
    const selecting = [
      find<SelectorSpec>("PodDisruptionBudget", "chatq-worker"),
      find<SelectorSpec>("Service", "chatq-worker-metrics"),
    ];
    for (const m of selecting) {
      const selector = m.spec.selector.matchLabels ?? m.spec.selector;
      expect(Object.entries(selector).length).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(selector)) expect(podLabels[k], `${m.kind} selects ${k}`).toBe(v);
    }
    expect(worker.spec.selector.matchLabels).toEqual(
      Object.fromEntries(Object.keys(worker.spec.selector.matchLabels).map((k) => [k, podLabels[k]])),
    );
  });

  it("KEDA scales the worker on its own group's lag of its own topic, never past the partitions", () => {
    const scaled = find<ScaledObjectSpec>("ScaledObject", "chatq-worker");
    expect(scaled.spec.scaleTargetRef.name).toBe(worker.metadata.name);
    const config = loadConfig(workerEnv);
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
