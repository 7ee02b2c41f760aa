import { readFile } from "node:fs/promises";
import { type KeyWrapper, LocalKeyWrapper, parseMasterKey } from "./key-wrapper.ts";
import { VaultError } from "./vault-error.ts";

/** What a service's config says about encryption at rest (ENCRYPTION, CHATQ_MASTER_KEY, CHATQ_MASTER_KEY_FILE). */
export interface EncryptionSettings {
  enabled: boolean;
  masterKey?: string | undefined;
  masterKeyFile?: string | undefined;
}

/** For a config's validation: why these settings cannot start, or undefined. */
export function encryptionProblem(s: EncryptionSettings): string | undefined {
  if (!s.enabled) return undefined;
  if (s.masterKey !== undefined && s.masterKeyFile !== undefined)
    return "CHATQ_MASTER_KEY and CHATQ_MASTER_KEY_FILE: set one, not both";
  if (s.masterKey === undefined && s.masterKeyFile === undefined)
    return "ENCRYPTION=on needs CHATQ_MASTER_KEY or CHATQ_MASTER_KEY_FILE (32 bytes, base64: openssl rand -base64 32); ENCRYPTION=off stores content in plaintext";
  return undefined;
}

/** The master key's wrapper, or undefined with encryption off. A key file is read once, at start. */
export async function loadKeyWrapper(s: EncryptionSettings): Promise<KeyWrapper | undefined> {
  if (!s.enabled) return undefined;
  const problem = encryptionProblem(s);
  if (problem !== undefined) throw new VaultError("master_key_missing", problem);
  let text = s.masterKey;
  if (text === undefined && s.masterKeyFile !== undefined) {
    try {
      text = await readFile(s.masterKeyFile, "utf8");
    } catch (err) {
      throw new VaultError("master_key_missing", `cannot read CHATQ_MASTER_KEY_FILE ${s.masterKeyFile}`, {
        cause: err,
      });
    }
  }
  return new LocalKeyWrapper(parseMasterKey(text ?? ""));
}
