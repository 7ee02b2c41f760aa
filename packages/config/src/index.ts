export { bool, brokers, csv, int, json, logLevel, sqlIdentifier, url } from "./env-fields.ts";
export { ConfigError, loadOrExit, parseEnv } from "./parse-env.ts";
