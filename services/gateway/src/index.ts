export {
  ConfigError,
  GATEWAY_ENV_KEYS,
  GATEWAY_HARD_STOP_MS,
  type GatewayConfig,
  gatewayReplyTopicPrefix,
  loadConfig,
} from "./config.ts";
export { GATEWAY_ERROR_CODES, GatewayError, type GatewayErrorCode } from "./gateway-error.ts";
export { GATEWAY_METRIC_NAMES } from "./gateway-metrics.ts";
export { type RunningGateway, startGateway } from "./start-gateway.ts";
export { SIGNATURE_HEADER, verifyWebhook, webhookSecret } from "./webhook-signature.ts";
