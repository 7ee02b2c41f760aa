import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { CliEnv } from "./cli-config.ts";

/**
 * On a laptop the demo, `pnpm worker`, `pnpm chatq gateway` and the CLI encrypt at rest like a deployment, under
 * one local master key made on first use and kept in the state directory (mode 0600), so each reads what the
 * others sealed. CHATQ_MASTER_KEY or CHATQ_MASTER_KEY_FILE replaces it; ENCRYPTION=off turns it off.
 */
export function localMasterKeyFile(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_STATE_HOME ?? join(homedir(), ".local/state"), "chatq", "local-master-key");
}

export function ensureKeyFile(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  }
  return file;
}

/** A service's environment with the local key filled in where encryption is on and no key was given. */
export function withLocalMasterKey(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.ENCRYPTION === "off" || env.CHATQ_MASTER_KEY || env.CHATQ_MASTER_KEY_FILE) return env;
  return { ...env, CHATQ_MASTER_KEY_FILE: ensureKeyFile(localMasterKeyFile(env)) };
}

/** The services' encryption variables for what the CLI was given. */
export function encryptionEnv(env: CliEnv): Record<string, string> {
  const e = env.encryption;
  if (!e.enabled) return { ENCRYPTION: "off" };
  return {
    ENCRYPTION: "on",
    ...(e.masterKey !== undefined && { CHATQ_MASTER_KEY: e.masterKey }),
    ...(e.masterKeyFile !== undefined && { CHATQ_MASTER_KEY_FILE: ensureKeyFile(e.masterKeyFile) }),
  };
}
