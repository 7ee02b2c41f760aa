import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, matchesGlob, posix, resolve } from "node:path";
import { createInterface } from "node:readline";
import { WORKER_ENV_KEYS } from "@chatq/worker";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

// The Docker packaging (docker-compose.yml, infra/docker/Dockerfile, .dockerignore) read the way Compose and
// BuildKit would read it, so that a renamed file, a service without its healthcheck or a variable the worker
// does not know fails here rather than on a user's `docker compose up`. No Docker engine is needed (nor is
// one on the CI machine); `docker compose config` needs the Compose plugin, which is not installed either.
// The image's health probe is run for real, as Docker runs it.

const root = resolve(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");
const WORKER_REQUIRED_ENV = ["KAFKA_BROKERS", "DATABASE_URL", "OPENAI_API_KEY"];

// --- docker-compose.yml ---

type Scalar = string | number | boolean | null;
interface ComposeBuild {
  context?: string;
  dockerfile?: string;
  args?: Record<string, Scalar> | string[];
}
type ComposeVolume = string | { type?: string; source?: string; target: string };
interface ComposeService {
  image?: string;
  build?: string | ComposeBuild;
  command?: string | string[];
  environment?: Record<string, Scalar> | string[];
  volumes?: ComposeVolume[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
}
interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Compose interpolation as with an empty environment: `${X:-default}` and `${X-default}` give the default. */
function interpolate(value: string): string {
  return value
    .replaceAll(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g,
      (_, _name, fallback?: string) => fallback ?? "",
    )
    .replaceAll("$$", "$");
}

function interpolateAll<T>(node: T): T {
  if (typeof node === "string") return interpolate(node) as T;
  if (Array.isArray(node)) return node.map(interpolateAll) as T;
  if (node !== null && typeof node === "object")
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v)])) as T;
  return node;
}

const composeText = read("docker-compose.yml");
const compose = interpolateAll(parseYaml(composeText) as ComposeFile);
const serviceNames = Object.keys(compose.services);

function buildOf(service: ComposeService): Required<Pick<ComposeBuild, "context" | "dockerfile">> & {
  args: Record<string, string>;
} {
  const b = typeof service.build === "string" ? { context: service.build } : (service.build ?? {});
  const args = Array.isArray(b.args)
    ? Object.fromEntries(b.args.map((a) => [a.split("=")[0], a.split("=").slice(1).join("=")]))
    : Object.fromEntries(Object.entries(b.args ?? {}).map(([k, v]) => [k, String(v)]));
  return { context: b.context ?? ".", dockerfile: b.dockerfile ?? "Dockerfile", args };
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env))
    return Object.fromEntries(env.map((e) => [e.split("=")[0], e.split("=").slice(1).join("=")]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

interface Mount {
  bind: boolean;
  source: string;
  target: string;
}

function mountsOf(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== "string") return { bind: v.type === "bind", source: v.source ?? "", target: v.target };
    const [source = "", target = ""] = v.split(":");
    return { bind: /^[./~]/.test(source), source, target };
  });
}

const builtServices = serviceNames.filter((n) => compose.services[n]?.build !== undefined);
const service = (name: string): ComposeService => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};

// --- infra/docker/Dockerfile ---

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, as BuildKit reads them. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  let startLine = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith("#") || (pending === "" && line === "")) return;
    if (pending === "") startLine = i + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const [, keyword = "", args = ""] = /^(\S+)\s*([\s\S]*)$/.exec(pending + line) ?? [];
    out.push({ keyword: keyword.toUpperCase(), args: args.trim(), line: startLine });
    pending = "";
  });
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const [base = "", as, name] = ins.args.split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

/** Replaces ${NAME} / $NAME with build-arg values; unknown names stay as they are, so a check can spot them. */
function substitute(text: string, vars: Record<string, string>): string {
  return text.replaceAll(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, a?: string, b?: string) => vars[a ?? b ?? ""] ?? whole,
  );
}

function words(args: string): string[] {
  return args.startsWith("[") ? (JSON.parse(args) as string[]) : args.split(/\s+/).filter((w) => w !== "");
}

const dockerfilePath = "infra/docker/Dockerfile";
const stages = stagesOf(parseDockerfile(read(dockerfilePath)));
const runtime = stages.at(-1) as Stage;
const lastOf = (keyword: string, stage: Stage) => stage.instructions.findLast((i) => i.keyword === keyword);

/** The ARG defaults of a stage, overridden by the build args compose passes. */
function argsFor(stage: Stage, buildArgs: Record<string, string>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === "ARG")) {
    const [name = "", value = ""] = i.args.split("=");
    vars[name] = value;
  }
  return { ...vars, ...buildArgs };
}

interface Copy {
  sources: string[];
  line: number;
}

/** Every COPY from the build context (not --from another stage), with its build args substituted. */
function contextCopies(buildArgs: Record<string, string>): Copy[] {
  return stages.flatMap((stage) => {
    const vars = argsFor(stage, buildArgs);
    return stage.instructions
      .filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
      .map((i) => ({ parts: words(substitute(i.args, vars)), line: i.line }))
      .filter(({ parts }) => !parts.some((p) => p.startsWith("--from")))
      .map(({ parts, line }) => ({ sources: parts.filter((p) => !p.startsWith("--")).slice(0, -1), line }));
  });
}

/** The image's working directory for the app: where `WORKDIR` first points, and where `COPY … ./` lands. */
const appRoot = stages.flatMap((s) => s.instructions).find((i) => i.keyword === "WORKDIR")?.args ?? "/";

/** The main module a built compose service runs, as a repo path: its command, or else the image's CMD. */
function mainModuleOf(name: string): string {
  const s = service(name);
  const vars = argsFor(runtime, buildOf(s).args);
  const workdir = substitute(lastOf("WORKDIR", runtime)?.args ?? appRoot, vars);
  const command =
    s.command === undefined
      ? words(lastOf("CMD", runtime)?.args ?? "[]")
      : typeof s.command === "string"
        ? words(s.command)
        : s.command;
  const script = command.find((w) => w.endsWith(".ts"));
  if (!script) throw new Error(`${name}: no .ts module in its command ${JSON.stringify(command)}`);
  const inImage = posix.resolve(workdir, script);
  expect(inImage.startsWith(`${appRoot}/`), `${inImage} is outside ${appRoot}`).toBe(true);
  return inImage.slice(appRoot.length + 1);
}

function dockerignorePatterns(): string[] {
  return read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Docker excludes a path when a pattern matches it or any of its parent directories. */
function ignoredBy(path: string, patterns: string[]): string | undefined {
  const parts = posix.normalize(path).replace(/\/$/, "").split("/");
  for (let n = 1; n <= parts.length; n++) {
    const prefix = parts.slice(0, n).join("/");
    const hit = patterns.find((p) => !p.startsWith("!") && matchesGlob(prefix, p));
    if (hit) return hit;
  }
  return undefined;
}

/** Workspace project folders, from pnpm-workspace.yaml's `dir/*` globs. */
function workspaceProjects(): string[] {
  const { packages } = parseYaml(read("pnpm-workspace.yaml")) as { packages: string[] };
  return packages.flatMap((glob) =>
    glob.endsWith("/*")
      ? readdirSync(join(root, glob.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory() && existsSync(join(root, glob.slice(0, -2), d.name, "package.json")))
          .map((d) => `${glob.slice(0, -2)}/${d.name}`)
      : [glob],
  );
}

/** A project and every workspace project it depends on ("workspace:" specifiers), transitively. */
function workspaceClosure(start: string, projects: string[]): string[] {
  const byName = new Map(
    projects.map((p) => [(JSON.parse(read(`${p}/package.json`)) as { name: string }).name, p] as const),
  );
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const manifest = JSON.parse(read(`${dir}/package.json`)) as { dependencies?: Record<string, string> };
    for (const [dep, spec] of Object.entries(manifest.dependencies ?? {})) {
      const depDir = byName.get(dep);
      if (spec.startsWith("workspace:") && depDir) visit(depDir);
    }
  };
  visit(start);
  return [...seen];
}

describe("docker-compose.yml", () => {
  it("is a current Compose file: no obsolete version key, every service has an image or a Dockerfile", () => {
    expect(compose.version, "`version:` is obsolete and makes Compose warn").toBeUndefined();
    expect(serviceNames).toEqual(
      expect.arrayContaining([
        "kafka",
        "postgres",
        "redis",
        "prometheus",
        "grafana",
        "fake-openai",
        "worker",
        "gateway",
      ]),
    );
    for (const name of serviceNames) {
      const s = service(name);
      expect(s.image !== undefined || s.build !== undefined, `${name}: neither image nor build`).toBe(true);
      if (s.build === undefined) continue;
      const { context, dockerfile } = buildOf(s);
      expect(existsSync(join(root, context)), `${name}: build context ${context}`).toBe(true);
      expect(existsSync(join(root, context, dockerfile)), `${name}: dockerfile ${dockerfile}`).toBe(true);
    }
  });

  it("every built service runs a main.ts that exists, from a package the image installs by name", () => {
    expect([...builtServices].sort()).toEqual(["fake-openai", "gateway", "worker"]);
    for (const name of builtServices) {
      const serviceArg = buildOf(service(name)).args.SERVICE;
      expect(serviceArg, `${name}: build arg SERVICE`).toBeDefined();
      const main = mainModuleOf(name);
      expect(main).toBe(`services/${serviceArg}/src/main.ts`);
      expect(existsSync(join(root, main)), `${name}: ${main}`).toBe(true);
      // The deps stage installs `--filter @chatq/<SERVICE>...`.
      const manifest = JSON.parse(read(`services/${serviceArg}/package.json`)) as { name: string };
      expect(manifest.name).toBe(`@chatq/${serviceArg}`);
    }
  });

  it("every bind-mounted host path exists in the repo, and every named volume is declared", () => {
    for (const name of serviceNames) {
      for (const m of mountsOf(service(name))) {
        if (m.bind) expect(existsSync(join(root, m.source)), `${name}: bind mount ${m.source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
      }
    }
  });

  it("the worker's environment names only variables the worker reads, the required ones included", () => {
    const known: readonly string[] = WORKER_ENV_KEYS;
    expect(known).toEqual(expect.arrayContaining(WORKER_REQUIRED_ENV));

    const env = environmentOf(service("worker"));
    expect(Object.keys(env).filter((k) => !known.includes(k))).toEqual([]);
    for (const k of WORKER_REQUIRED_ENV) expect(env[k], `worker ${k}`).toMatch(/\S/);
  });

  it("the worker reaches Kafka, Postgres, Redis and the fake API by their compose service names", () => {
    const env = environmentOf(service("worker"));
    const kafkaEnv = environmentOf(service("kafka"));
    for (const broker of (env.KAFKA_BROKERS ?? "").split(",")) {
      expect(serviceNames).toContain(broker.split(":")[0]);
      // A client reconnects to the advertised address, so the one it bootstraps from must be advertised.
      expect(kafkaEnv.KAFKA_ADVERTISED_LISTENERS).toContain(`//${broker}`);
    }
    for (const key of ["DATABASE_URL", "REDIS_URL", "OPENAI_BASE_URL"]) {
      expect(serviceNames, key).toContain(new URL(env[key] ?? "").hostname);
    }
    expect(new URL(env.OPENAI_BASE_URL ?? "").port).toBe(
      environmentOf(service("fake-openai")).FAKE_OPENAI_PORT,
    );
  });

  it("depends_on names existing services and waits for health only where a healthcheck exists", () => {
    const imageHasHealthcheck = lastOf("HEALTHCHECK", runtime) !== undefined;
    for (const name of serviceNames) {
      const deps = service(name).depends_on ?? [];
      const entries: [string, { condition?: string }][] = Array.isArray(deps)
        ? deps.map((d) => [d, {}])
        : Object.entries(deps);
      for (const [dep, opts] of entries) {
        expect(serviceNames, `${name} depends on ${dep}`).toContain(dep);
        if (opts.condition !== "service_healthy") continue;
        const target = service(dep);
        const hasCheck = target.healthcheck
          ? target.healthcheck.disable !== true
          : target.build !== undefined && imageHasHealthcheck;
        expect(hasCheck, `${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`).toBe(true);
      }
    }
    const worker = service("worker").depends_on as Record<string, { condition?: string }>;
    for (const dep of ["kafka", "postgres", "redis"]) expect(worker[dep]?.condition).toBe("service_healthy");
  });

  it("Prometheus scrapes compose services at their metrics port, and loads the mounted alert rules", () => {
    const config = parseYaml(read("infra/prometheus/prometheus.yml")) as {
      rule_files?: string[];
      scrape_configs: {
        job_name: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port?: number }[];
      }[];
    };
    const targets = config.scrape_configs.flatMap((job) => [
      ...(job.static_configs ?? []).flatMap((sc) => sc.targets.map((t) => t.split(":"))),
      ...(job.dns_sd_configs ?? []).flatMap((sd) => sd.names.map((n) => [n, String(sd.port)])),
    ]);
    expect(targets.length).toBeGreaterThan(0);
    for (const [host = "", port] of targets) {
      if (host === "localhost" || host === "127.0.0.1") continue; // Prometheus scraping itself
      expect(serviceNames, `scrape target ${host}:${port}`).toContain(host);
      const metricsPort = environmentOf(service(host)).METRICS_PORT;
      if (metricsPort !== undefined) expect(port, `${host}'s METRICS_PORT`).toBe(metricsPort);
    }

    const mounts = mountsOf(service("prometheus")).filter((m) => m.bind);
    const configMount = mounts.find((m) => m.source === "./infra/prometheus/prometheus.yml");
    expect(configMount?.target).toBe("/etc/prometheus/prometheus.yml");
    for (const glob of config.rule_files ?? []) {
      const inContainer = posix.resolve("/etc/prometheus", glob);
      const mount = mounts.find((m) => inContainer.startsWith(`${m.target}/`));
      expect(mount, `rule_files ${glob}: nothing mounted there`).toBeDefined();
      const dir = join(root, mount?.source ?? "");
      const pattern = inContainer.slice((mount?.target.length ?? 0) + 1);
      const matching = readdirSync(dir).filter((f) => matchesGlob(f, pattern));
      expect(matching.length, `rule_files ${glob} matches no file in ${mount?.source}`).toBeGreaterThan(0);
    }
  });

  it("Grafana finds the provisioning files, the dashboards and the Prometheus datasource where they say", () => {
    const mounts = mountsOf(service("grafana")).filter((m) => m.bind);
    const targetOf = (source: string) => mounts.find((m) => m.source === source)?.target;
    expect(targetOf("./infra/grafana/provisioning")).toBe("/etc/grafana/provisioning");
    const provider = parseYaml(read("infra/grafana/provisioning/dashboards/chatq.yml")) as {
      providers: { options: { path: string } }[];
    };
    for (const p of provider.providers) expect(targetOf("./infra/grafana/dashboards")).toBe(p.options.path);
    const datasources = parseYaml(read("infra/grafana/provisioning/datasources/prometheus.yml")) as {
      datasources: { url: string }[];
    };
    for (const ds of datasources.datasources) expect(serviceNames).toContain(new URL(ds.url).hostname);
  });
});

describe("infra/docker/Dockerfile", () => {
  it("every stage starts from Node 24 or from an earlier stage", () => {
    expect(stages.length).toBeGreaterThan(1);
    const named: string[] = [];
    for (const s of stages) {
      if (!named.includes(s.base)) expect(s.base).toMatch(/^node:24[.-]/);
      if (s.name) named.push(s.name);
    }
  });

  it("every COPY source exists in the build context and is not excluded by .dockerignore", () => {
    const patterns = dockerignorePatterns();
    for (const name of builtServices) {
      const copies = contextCopies(buildOf(service(name)).args);
      expect(copies.length).toBeGreaterThan(0);
      for (const { sources, line } of copies) {
        for (const src of sources) {
          expect(src, `line ${line}: unresolved build arg`).not.toMatch(/\$/);
          expect(existsSync(join(root, src)), `${name}, line ${line}: COPY ${src}`).toBe(true);
          expect(ignoredBy(src, patterns), `${name}, line ${line}: COPY ${src}`).toBeUndefined();
        }
      }
    }
  });

  it("the deps stage copies the manifest of every workspace package a built service needs", () => {
    const copied = new Set(contextCopies({}).flatMap((c) => c.sources));
    for (const f of ["package.json", "pnpm-workspace.yaml", "pnpm-lock.yaml"]) expect(copied).toContain(f);
    // pnpm installs `--filter @chatq/<SERVICE>...`: the service and every workspace package it reaches. A
    // manifest missing from the image would leave that package without its node_modules.
    const projects = workspaceProjects();
    expect(workspaceClosure("services/worker", projects)).toEqual(
      expect.arrayContaining(["services/worker", "packages/store", "packages/contracts"]),
    );
    for (const name of builtServices) {
      const needed = workspaceClosure(`services/${buildOf(service(name)).args.SERVICE}`, projects);
      for (const p of needed)
        expect(copied, `${name} needs ${p}/package.json`).toContain(`${p}/package.json`);
    }
  });

  it("the image runs as a non-root user under tini, with a health probe that is in the image", () => {
    const user = lastOf("USER", runtime)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(words(lastOf("ENTRYPOINT", runtime)?.args ?? "[]")[0]).toMatch(/(^|\/)tini$/);
    const probe = words(lastOf("HEALTHCHECK", runtime)?.args.replace(/^(--\S+\s+)*CMD\s+/, "") ?? "[]");
    const script = probe.find((w) => w.endsWith(".ts")) ?? "";
    expect(script.startsWith(`${appRoot}/`)).toBe(true);
    expect(existsSync(join(root, script.slice(appRoot.length + 1)))).toBe(true);
    expect(runtime.instructions.some((i) => i.keyword === "ENV" && /NODE_ENV=production/.test(i.args))).toBe(
      true,
    );
  });

  it(".dockerignore keeps the host's node_modules and .git out of the build context", () => {
    const patterns = dockerignorePatterns();
    for (const path of ["node_modules", "packages/store/node_modules", ".git", "packages/llm/src/x.test.ts"])
      expect(ignoredBy(path, patterns), path).toBeDefined();
    for (const path of ["packages/ratelimit/src/sliding-window-budget.lua", "infra/migrations"])
      expect(ignoredBy(path, patterns), path).toBeUndefined();
  });
});

// --- the image's HEALTHCHECK command, run as Docker runs it ---

const probeScript = join(root, "infra/docker/healthcheck.ts");

/** Runs the probe with only the given environment, as the container would; resolves to its exit code. */
function runProbe(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [probeScript], { env, timeout: 30_000 }, (err, _stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr });
    });
  });
}

async function listen(handler: (path: string) => number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.writeHead(handler(req.url ?? "/")).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, port: (server.address() as AddressInfo).port };
}

describe("the image's health probe", () => {
  it("is healthy when the worker answers /healthz on METRICS_PORT, unhealthy on an error or no answer", async () => {
    const paths: string[] = [];
    let status = 200;
    const { server, port } = await listen((path) => {
      paths.push(path);
      return status;
    });
    try {
      expect((await runProbe({ SERVICE: "worker", METRICS_PORT: String(port) })).code).toBe(0);
      expect(paths).toEqual(["/healthz"]);
      status = 503;
      expect((await runProbe({ SERVICE: "worker", METRICS_PORT: String(port) })).code).toBe(1);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
    const down = await runProbe({ SERVICE: "worker", METRICS_PORT: String(port) });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("ECONNREFUSED");
  });

  it("is healthy against the real fake OpenAI server on FAKE_OPENAI_PORT", async () => {
    const fake = spawn(
      process.execPath,
      [join(root, "services/fake-openai/src/main.ts"), "--host", "127.0.0.1", "--port", "0"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const lines = createInterface({ input: fake.stdout });
      let port: number | undefined;
      for await (const line of lines) {
        const event = JSON.parse(line) as { event: string; port?: number };
        if (event.event === "listening") {
          port = event.port;
          break;
        }
      }
      expect(port).toBeDefined();
      expect((await runProbe({ SERVICE: "fake-openai", FAKE_OPENAI_PORT: String(port) })).code).toBe(0);
    } finally {
      fake.kill("SIGTERM");
    }
  });

  it("the gateway is healthy when it answers /healthz on GATEWAY_PORT", async () => {
    const { server, port } = await listen((path) => (path === "/healthz" ? 200 : 404));
    try {
      expect((await runProbe({ SERVICE: "gateway", GATEWAY_PORT: String(port) })).code).toBe(0);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });

  it("an unknown service is unhealthy until HEALTHCHECK_URL names its endpoint", async () => {
    const unknown = await runProbe({ SERVICE: "not-a-service" });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("HEALTHCHECK_URL");
    const { server, port } = await listen((path) => (path === "/live" ? 200 : 404));
    try {
      const probed = await runProbe({
        SERVICE: "not-a-service",
        HEALTHCHECK_URL: `http://127.0.0.1:${port}/live`,
      });
      expect(probed.code).toBe(0);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });
});
