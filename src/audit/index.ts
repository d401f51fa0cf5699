/** Tamper-evident audit log: hash-chained JSON lines, one per decision. */
export { AuditLog, rotatedFiles, type AuditLogOptions, type AuditHead } from './log.ts';
export { verifyAuditLog, logFiles, type AuditVerifyResult, type AuditVerifyOptions, type AuditProblem, type ProblemKind } from './verify.ts';
export { GENESIS, hashRecord, formatLine, eventFields, type AuditRecord, type AuditLine, type AuditEvent } from './record.ts';
