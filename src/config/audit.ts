/** The `audit:` section: where the guard writes its decisions. With no section, nowhere. */
import { z } from 'zod';
import { exportListSchema } from './export.ts';

export type AuditSinkKind = 'jsonl' | 'stderr' | 'none';

export const auditSectionSchema = z.strictObject({
  sink: z.enum(['jsonl', 'stderr', 'none'], { error: 'expected jsonl, stderr or none' }),
  path: z.string().optional(),
  /** Where decisions also go: syslog (CEF or OCSF), OCSF files, OpenTelemetry (src/config/export.ts). */
  export: exportListSchema.optional(),
});
