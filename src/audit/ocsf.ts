/**
 * A decision as an OCSF "API Activity" event (class 6003, category 6
 * Application Activity; OCSF 1.1). The tool is the API operation, the token's
 * subject the actor, the concrete resource the resource; chain ids, the
 * argument digest and how the call was checked go under `unmapped.capframe`.
 * Like the audit line, never a token, a key or raw arguments.
 */
import { eventFields, type AuditEvent, type EventFields } from './record.ts';
import { jsonString } from './json-text.ts';

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
    ...headMembers(activity, allowed),
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

/** The members before `time`: the same for every event of one activity and outcome. */
function headMembers(activity: number, allowed: boolean) {
  return {
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
  };
}

/** The members before `time`, per activity and outcome, as constant text. */
function head(activity: number, allowed: boolean): string {
  return JSON.stringify(headMembers(activity, allowed)).slice(0, -1) + ',"time":';
}
const ACTIVITIES = [1, 2, 3, 4, 99];

/**
 * The JSON text of toOcsf(event, timeMs, options) given eventFields(event),
 * character for character
 * (same members, same order), written as text: the constant parts are built
 * once per formatter and only the event's own values are escaped
 * (jsonString: JSON.stringify's own escaping). For the export sinks, where
 * every decision is formatted; test/audit/export.test.ts holds it to
 * JSON.stringify(toOcsf(...)) on hostile values.
 */
export function ocsfFormatter(options: OcsfOptions = {}): (f: EventFields, timeMs: number) => string {
  const heads = new Map<number, readonly [string, string]>(ACTIVITIES.map((a) => [a, [head(a, true), head(a, false)]]));
  const meta =
    ',"metadata":' +
    JSON.stringify({
      version: OCSF_VERSION,
      product: { name: 'capframe', vendor_name: 'capframe', ...(options.productVersion ? { version: options.productVersion } : {}) },
    }) +
    ',"actor":{"user":{"uid":';
  return (f, timeMs) => {
    const allowed = f.decision === 'allow';
    const activity = (f.operation !== null ? ACTIVITY[f.operation.toLowerCase()] : undefined) ?? 99;
    const subject = jsonString(f.subject ?? 'unknown');
    const operation = f.operation !== null ? jsonString(f.operation) : null;
    let t = heads.get(activity)![allowed ? 0 : 1] + Math.floor(timeMs) + meta + subject + '}},"api":{"operation":' + jsonString(f.tool ?? 'unknown');
    if (f.callId !== null) t += ',"request":{"uid":' + jsonString(f.callId) + '}';
    t += '},"src_endpoint":{"name":' + subject + '},"resources":[';
    if (f.resource !== null) t += '{"uid":' + jsonString(f.resource) + (operation !== null ? ',"type":' + operation : '') + '}';
    t += '],"unmapped":{"capframe":{"chain":[';
    for (let i = 0; i < f.chain.length; i++) t += (i > 0 ? ',' : '') + jsonString(f.chain[i]!);
    t += ']';
    if (f.argsDigest !== null) t += ',"args_digest":' + jsonString(f.argsDigest);
    if (f.mode !== null) t += ',"mode":' + jsonString(f.mode);
    if (f.source !== null) t += ',"source":' + jsonString(f.source);
    if (operation !== null) t += ',"operation":' + operation;
    if (f.latencyMs !== null) t += ',"latency_ms":' + JSON.stringify(f.latencyMs);
    t += '}}';
    if (!allowed) t += ',"status_detail":' + jsonString(f.code ?? 'ERR_INTERNAL');
    return t + '}';
  };
}
