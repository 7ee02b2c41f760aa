export {
  bool,
  brokers,
  csv,
  encryptionFields,
  encryptionSettings,
  int,
  json,
  logLevel,
  sqlIdentifier,
  url,
} from "./env-fields.ts";
export { ConfigError, loadOrExit, parseEnv } from "./parse-env.ts";
