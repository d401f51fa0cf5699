/** The `audit:` section: where the guard writes its decisions. With no section, nowhere. */
import { z } from 'zod';

export type AuditSinkKind = 'jsonl' | 'stderr' | 'none';

export const auditSectionSchema = z.strictObject({
  sink: z.enum(['jsonl', 'stderr', 'none'], { error: 'expected jsonl, stderr or none' }),
  path: z.string().optional(),
});
