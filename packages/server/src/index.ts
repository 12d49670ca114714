export { ApiError, type ApiErrorBody, type ApiErrorType } from './api-error.js';
export type { SpeculationReport, Usage } from './completion-response.js';
export { GenerationSlot, type ReleaseSlot } from './generation-slot.js';
export type { ServedGenerator } from './served-generator.js';
export { createServer, type ListenOptions, type ServerOptions, type TreespecServer } from './server.js';
export { ServerMetrics } from './server-metrics.js';
