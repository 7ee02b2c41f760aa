export { generateApiKey, hashApiKey, type NewApiKey, parseApiKey } from "./api-key.ts";
export { Authenticator, budgetReached, type Caller } from "./authenticator.ts";
export {
  type ApiKeyInfo,
  type Spend,
  type Tenant,
  TenantError,
  type TenantInput,
  TenantStore,
  type TenantStoreOptions,
} from "./tenant-store.ts";
