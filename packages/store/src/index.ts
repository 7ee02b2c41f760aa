export type { Admission, ReceivedRequest } from "./admission.ts";
export type { AuditEvent, AuditEventName } from "./audit-buffer.ts";
export { type BrokenRow, type ChainBreak, genesisHash, walkChain } from "./audit-chain.ts";
export { type AuditVerification, anchorAuditLog, type ChainHead, verifyAuditLog } from "./audit-verify.ts";
export {
  type BatchFigures,
  type BatchMember,
  type BatchRow,
  type BatchState,
  type BatchStore,
  createBatchStore,
  type NewBatch,
} from "./batches.ts";
export type { Outcome } from "./completion.ts";
export type { ConversationSummary, StoredTurn } from "./conversation-context.ts";
export {
  type DataSubject,
  type ErasureReport,
  eraseSubject,
  exportSubject,
  recordConsent,
  type SubjectExport,
  type SubjectToolOptions,
  setTenantPolicy,
} from "./data-subject.ts";
export type {
  CompareQuery,
  SpendPeriod,
  SpendQuery,
  SpendRow,
  UnpricedModel,
  VariantFigures,
} from "./ledger.ts";
export { DEFAULT_MIGRATIONS_DIR, MigrationError, migrate } from "./migrate.ts";
export type { ConnectionOptions, QueryEvent } from "./postgres-pool.ts";
export { type ReencryptReport, reencryptAll } from "./reencrypt.ts";
export { type RejectedMessage, rejectedReply } from "./rejection.ts";
export {
  createReplayStore,
  type ReplayFilter,
  type ReplayJob,
  type ReplayStore,
  type StoredRequestRow,
} from "./replays.ts";
export { type PurgeReport, purgeExpired } from "./retention.ts";
export type { StorageBasis, StoragePolicy } from "./storage-policy.ts";
export { createStore, type Store, type StoreOptions } from "./store.ts";
export { rotateMaster, type StoreEncryption } from "./store-cipher.ts";
export { StoreError, type StoreErrorCode } from "./store-error.ts";
