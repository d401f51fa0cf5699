/** capframe/audit: the tamper-evident audit log (hash-chained JSON lines, one per decision). */
export { AuditLog, type AuditLogOptions, type AuditHead } from './log.ts';
export { verifyAuditLog, type AuditVerifyResult, type AuditVerifyOptions, type AuditProblem, type ProblemKind } from './verify.ts';
export type { AuditRecord, AuditEvent } from './record.ts';
export { toOcsf, OCSF_VERSION, type OcsfOptions } from './ocsf.ts';
export { toCef, cefHeader, cefValue, syslogMessage, type CefOptions, type SyslogHeader } from './cef.ts';
export {
  syslogSink,
  fileExportSink,
  type ExportSink,
  type ExportStats,
  type ExportFormat,
  type SyslogExportOptions,
  type FileExportOptions,
} from './export.ts';
export { otelSink, otelSinkWith, type OtelSink, type OtelSinkOptions, type OtelApi } from './otel.ts';
export { signCheckpoint, checkCheckpoint, type CheckpointOptions, type CheckpointClaim } from './checkpoint.ts';
