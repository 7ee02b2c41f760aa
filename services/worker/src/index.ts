// The worker's public surface: the process (main.ts) uses startWorker; tests drive the pipeline in-process.
export { ACCOUNT, ApiGates, type ApiGatesOptions } from "./api-gates.ts";
export {
  type DocsConfig,
  HARD_STOP_GRACE_MS,
  loadConfig,
  loadDocsConfig,
  type RetrievalConfig,
  WORKER_ENV_KEYS,
  type WorkerConfig,
} from "./config.ts";
export { type DocumentLibrary, openDocumentLibrary, openRetrievalStore } from "./document-library.ts";
export { type ConsumerControl, Pipeline, type PipelinePorts, type PipelineSettings } from "./pipeline.ts";
export { type RunningWorker, startWorker } from "./worker.ts";
export { type WorkerEventMap, WorkerEvents } from "./worker-events.ts";
