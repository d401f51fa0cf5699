/** capframe/audit: the tamper-evident audit log (hash-chained JSON lines, one per decision). */
export { AuditLog, type AuditLogOptions, type AuditHead } from './log.ts';
export { verifyAuditLog, type AuditVerifyResult, type AuditVerifyOptions, type AuditProblem, type ProblemKind } from './verify.ts';
export type { AuditRecord, AuditEvent } from './record.ts';
