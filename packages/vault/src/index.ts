export { formatEnvelope, isSealed, parseEnvelope } from "./envelope.ts";
export { type KeyWrapper, LocalKeyWrapper, parseMasterKey } from "./key-wrapper.ts";
export { type EncryptionSettings, encryptionProblem, loadKeyWrapper } from "./master-key-source.ts";
export { rotateMasterKey } from "./rotate-master.ts";
export {
  type ContentCipher,
  type OpenItem,
  plaintextCipher,
  type Queryable,
  type SealItem,
  type Subject,
  subjectOf,
  Vault,
  type VaultOptions,
  verifyMasterKey,
} from "./vault.ts";
export { VaultError, type VaultErrorCode } from "./vault-error.ts";
