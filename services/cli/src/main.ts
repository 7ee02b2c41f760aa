#!/usr/bin/env node
// chatq's operator CLI: `pnpm chatq <command>`. Commands: demo, worker, fake, gateway, publish, follow, tenants,
// keys, docs, spend, prices, compare, routes, replay, dlq.
import { parseArgs } from "node:util";
import type { Priority } from "@chatq/contracts";
import { TenantError } from "@chatq/tenants";
import { cliEnv } from "./cli-config.ts";
import { runDemo } from "./demo.ts";
import { DLQ_USAGE, runDlq } from "./dlq.ts";
import { DOCS_USAGE, DocsUsageError, runDocs } from "./docs.ts";
import { follow } from "./follow.ts";
import { formatReply } from "./format-reply.ts";
import { compare, pricesCheck, routesCheck, spend } from "./ledger.ts";
import {
  PROTECTION_USAGE,
  ProtectionUsageError,
  runAuditCommand,
  runReencrypt,
  runRotateMaster,
  runSubjectCommand,
} from "./protection.ts";
import { buildRequest, publishRequests } from "./publish.ts";
import { REPLAY_USAGE, runReplay } from "./replay.ts";
import { localWorkerEnv, runService } from "./run-service.ts";
import { runTenantCommand, TENANTS_USAGE, UsageError as TenantUsageError } from "./tenants.ts";

const USAGE = `usage: chatq <command> [options]

  demo [--exit]                          start the fake API (unless OPENAI_API_KEY is set without
                                         OPENAI_BASE_URL) and a worker, publish sample requests,
                                         print the replies; --exit stops once they are answered
  worker                                 run one worker in the foreground (pnpm worker); configured by
                                         the environment (README: Configuration), with the local
                                         stack's KAFKA_BROKERS, DATABASE_URL, REDIS_URL by default
  fake [--port 8089 ...]                 run the fake OpenAI API (pnpm fake; flags: its README)
  gateway                                run one HTTP gateway in the foreground (README: Gateway)
  publish [options] <message>            publish one chat request
      --conversation <id>  --system <text>  --model <name>  --tenant <id>
      --priority interactive|batch  --max-tokens <n>
  follow [--from-beginning]              print replies and dead letters as they arrive
${TENANTS_USAGE}

${DOCS_USAGE}

  spend [--tenant T] [--route R] [--since 30d] [--by day|month] [--json]
                                         spend per day or month, tenant and route (usage ledger)
  prices check [--since 30d] [--json]    models seen in traffic with no price (exit 1 if any)
  compare --route R --variants A,B [--since 7d] [--json]
                                         a route's variants side by side: requests, cost, latency,
                                         answer length, finish reasons, refusals, errors
  routes check <file>                    validate a route file as the worker's reload would
${REPLAY_USAGE}
${DLQ_USAGE}
${PROTECTION_USAGE}

Where the stack is comes from KAFKA_BROKERS, DATABASE_URL, REDIS_URL, TOPIC_REQUESTS, TOPIC_REPLIES,
TOPIC_DLQ, METRICS_PORT (defaults: the local stack of \`pnpm stack:up\`); tenants and keys also DATABASE_SCHEMA
and GATEWAY_KEY_PEPPER (the gateway's); docs reads the worker's OPENAI_* and RETRIEVAL_* variables (README:
Context and retrieval).`;

class UsageError extends Error {}

const [command, ...rest] = process.argv.slice(2);
const env = cliEnv();

try {
  switch (command) {
    case "demo": {
      const { values } = parseArgs({ args: rest, options: { exit: { type: "boolean", default: false } } });
      await runDemo(env, { exitWhenDone: values.exit });
      process.exit(0);
      break;
    }
    case "worker":
      process.exit(await runService("worker", rest, localWorkerEnv(process.env)));
      break;
    case "fake":
      process.exit(await runService("fake", rest, process.env));
      break;
    case "gateway":
      process.exit(await runService("gateway", rest, localWorkerEnv(process.env)));
      break;
    case "publish": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          conversation: { type: "string" },
          system: { type: "string" },
          model: { type: "string" },
          tenant: { type: "string" },
          priority: { type: "string" },
          "max-tokens": { type: "string" },
        },
      });
      const message = positionals.join(" ").trim();
      if (!message) throw new UsageError("publish needs a message");
      if (values.priority !== undefined && !["interactive", "batch"].includes(values.priority)) {
        throw new UsageError("--priority must be interactive or batch");
      }
      const request = buildRequest({
        message,
        conversation: values.conversation,
        system: values.system,
        model: values.model,
        tenant: values.tenant,
        priority: values.priority as Priority | undefined,
        maxTokens: values["max-tokens"] === undefined ? undefined : Number(values["max-tokens"]),
      });
      await publishRequests(env, [request]);
      console.log(JSON.stringify({ published: request.request_id, topic: env.topics.requests }));
      process.exit(0);
      break;
    }
    case "follow": {
      const { values } = parseArgs({
        args: rest,
        options: { "from-beginning": { type: "boolean", default: false } },
      });
      const following = await follow(env, values["from-beginning"], (m) => {
        console.log(m.kind === "reply" ? formatReply(m.reply) : `☠ dead-lettered (${m.code}): ${m.message}`);
      });
      console.error(`following ${env.topics.replies} and ${env.topics.deadLetter}; Ctrl-C to stop`);
      await new Promise<void>((r) => process.once("SIGINT", r));
      await following.stop();
      process.exit(0);
      break;
    }
    case "tenants":
    case "keys":
      if (rest[0] === "rotate-master")
        process.exit(
          await runRotateMaster(env, process.env.CHATQ_NEW_MASTER_KEY, (line) => console.log(line)),
        );
      await runTenantCommand(command, rest, env, (line) => console.log(line));
      process.exit(0);
      break;
    case "docs":
      process.exit(await runDocs(rest, { ...localWorkerEnv(process.env) }));
      break;
    case "spend": {
      const { values } = parseArgs({
        args: rest,
        options: {
          tenant: { type: "string" },
          route: { type: "string" },
          since: { type: "string", default: "30d" },
          by: { type: "string", default: "day" },
          json: { type: "boolean", default: false },
        },
      });
      if (values.by !== "day" && values.by !== "month") throw new UsageError("--by must be day or month");
      console.log(await spend(env, { ...values, by: values.by }));
      process.exit(0);
      break;
    }
    case "prices": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { since: { type: "string", default: "30d" }, json: { type: "boolean", default: false } },
      });
      if (positionals[0] !== "check")
        throw new UsageError("usage: chatq prices check [--since 30d] [--json]");
      const { text, missing } = await pricesCheck(env, values);
      console.log(text);
      process.exit(missing > 0 ? 1 : 0);
      break;
    }
    case "compare": {
      const { values } = parseArgs({
        args: rest,
        options: {
          route: { type: "string" },
          variants: { type: "string" },
          since: { type: "string", default: "7d" },
          json: { type: "boolean", default: false },
        },
      });
      const variants = (values.variants ?? "").split(",").filter((v) => v.length > 0);
      if (values.route === undefined || variants.length < 2) {
        throw new UsageError("compare needs --route R and --variants A,B");
      }
      console.log(
        await compare(env, { route: values.route, variants, since: values.since, json: values.json }),
      );
      process.exit(0);
      break;
    }
    case "routes": {
      const [sub, file] = rest;
      if (sub !== "check" || file === undefined) throw new UsageError("usage: chatq routes check <file>");
      try {
        console.log(routesCheck(file));
      } catch (err) {
        console.error((err as Error).message);
        process.exit(1);
      }
      process.exit(0);
      break;
    }
    case "replay":
      process.exit(await runReplay(rest, env, (line) => console.log(line)));
      break;
    case "dlq":
      process.exit(await runDlq(rest, env, (line) => console.log(line)));
      break;
    case "audit":
      process.exit(await runAuditCommand(rest, env, (line) => console.log(line)));
      break;
    case "reencrypt":
      process.exit(await runReencrypt(rest, env, (line) => console.log(line)));
      break;
    case "consent":
    case "policy":
    case "purge":
    case "erase":
    case "export":
      process.exit(await runSubjectCommand(command, rest, env, (line) => console.log(line)));
      break;
    default:
      throw new UsageError(command ? `unknown command: ${command}` : "no command");
  }
} catch (err) {
  if (
    err instanceof UsageError ||
    err instanceof TenantUsageError ||
    err instanceof DocsUsageError ||
    err instanceof ProtectionUsageError ||
    (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
  ) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (err instanceof TenantError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
