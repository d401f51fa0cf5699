/**
 * A decision as an OCSF "API Activity" event (class 6003, category 6
 * Application Activity; OCSF 1.1). The tool is the API operation, the token's
 * subject the actor, the concrete resource the resource; chain ids, the
 * argument digest and how the call was checked go under `unmapped.capframe`.
 * Like the audit line, never a token, a key or raw arguments.
 */
import { eventFields, type AuditEvent } from './record.ts';

export const OCSF_VERSION = '1.1.0';
const CLASS_UID = 6003;

/** OCSF API Activity activity ids: Create 1, Read 2, Update 3, Delete 4, Other 99. */
const ACTIVITY: Readonly<Record<string, number>> = {
  create: 1,
  read: 2,
  list: 2,
  get: 2,
  search: 2,
  update: 3,
  write: 3,
  edit: 3,
  delete: 4,
  remove: 4,
};
const ACTIVITY_NAME: Readonly<Record<number, string>> = { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' };

export interface OcsfOptions {
  /** `metadata.product.version`. */
  readonly productVersion?: string;
}

/** The OCSF object for one decision event at `timeMs` (milliseconds since the epoch). */
export function toOcsf(event: AuditEvent, timeMs: number, options: OcsfOptions = {}): Record<string, unknown> {
  const f = eventFields(event);
  const allowed = f.decision === 'allow';
  const activity = (f.operation !== null ? ACTIVITY[f.operation.toLowerCase()] : undefined) ?? 99;
  const unmapped: Record<string, unknown> = { chain: f.chain };
  if (f.argsDigest !== null) unmapped.args_digest = f.argsDigest;
  if (f.mode !== null) unmapped.mode = f.mode;
  if (f.source !== null) unmapped.source = f.source;
  if (f.operation !== null) unmapped.operation = f.operation;
  if (f.latencyMs !== null) unmapped.latency_ms = f.latencyMs;
  const out: Record<string, unknown> = {
    activity_id: activity,
    activity_name: ACTIVITY_NAME[activity],
    category_uid: 6,
    category_name: 'Application Activity',
    class_uid: CLASS_UID,
    class_name: 'API Activity',
    type_uid: CLASS_UID * 100 + activity,
    severity_id: allowed ? 1 : 3,
    severity: allowed ? 'Informational' : 'Medium',
    status_id: allowed ? 1 : 2,
    status: allowed ? 'Success' : 'Failure',
    time: Math.floor(timeMs),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'capframe', vendor_name: 'capframe', ...(options.productVersion ? { version: options.productVersion } : {}) },
    },
    actor: { user: { uid: f.subject ?? 'unknown' } },
    api: { operation: f.tool ?? 'unknown', ...(f.callId !== null ? { request: { uid: f.callId } } : {}) },
    // OCSF requires a source endpoint: the agent is named by its subject (capframe sees no address in process).
    src_endpoint: { name: f.subject ?? 'unknown' },
    resources: f.resource !== null ? [{ uid: f.resource, ...(f.operation !== null ? { type: f.operation } : {}) }] : [],
    unmapped: { capframe: unmapped },
  };
  if (!allowed) out.status_detail = f.code ?? 'ERR_INTERNAL';
  return out;
}
