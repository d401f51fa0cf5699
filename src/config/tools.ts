/**
 * The `tools:` section: one token schema per tool, i.e. what a call to the
 * tool needs from the token (resource template, operation, constraints that
 * always apply, whether calls are signed by the holder).
 */
import { z } from 'zod';
import { validateConstraint, type Constraint, type Constraints } from '../token/constraints.ts';
import { LIMITS } from '../token/limits.ts';
import { configError, CONTROL, duration, seconds } from './common.ts';
import { compileTemplate, type ResourceTemplate } from './template.ts';

const PERMISSION = /^[A-Za-z0-9_.:-]{1,64}$/;
export const RESERVED_ARGUMENT = '"__proto__" is reserved and cannot be constrained by a tool policy';

/** The token schema of one tool: what a call to it needs from the token. */
export interface ToolPolicy {
  readonly tool: string;
  /** Computes the call's concrete resource from its arguments. */
  readonly resource: ResourceTemplate;
  /** The one permission (operation) the call uses, e.g. `read`. */
  readonly operation: string;
  /** Argument constraints that always apply, whatever the token says. */
  readonly constraints?: Constraints;
  /** Sign an invocation proof with the holder key for every call (for tools that forward it). */
  readonly attested: boolean;
  /** Lifetime of a signed invocation proof, seconds (attested tools). Default: the verifier's invocation window. */
  readonly proofWindow?: number;
  /** Where the policy was declared, for messages: `file:line field`. */
  readonly where?: PolicySource;
}

export interface PolicySource {
  readonly file: string;
  /** Line of each field: `resource`, `operation`, `constraints.NAME`, ... */
  readonly lines: Readonly<Record<string, number>>;
  readonly line: number;
}

/** A tool policy as written in code (same fields as the YAML). */
export interface ToolPolicySpec {
  resource: string;
  operation: string;
  constraints?: Record<string, Constraint>;
  attested?: boolean;
  proofWindow?: string | number;
}

// Only the shape: the constraint syntax lives in token/ (validateConstraint, docs/spec.md §6), which
// checks each constraint when the tool policy is built and names the field that is wrong.
export const constraintSchema = z.looseObject(
  { type: z.string({ error: 'expected a constraint: an object with a type (see docs/policy.md)' }) },
  { error: 'expected a constraint: an object with a type (see docs/policy.md)' },
);

export const toolSchema = z.strictObject({
  resource: z.string({ error: 'expected a resource template such as "tickets://acme/{id}"' }),
  operation: z.string({ error: 'expected the permission the tool needs, e.g. read' }),
  constraints: z.record(z.string(), constraintSchema).optional(),
  attested: z.boolean({ error: 'expected true or false' }).optional(),
  proofWindow: duration.optional(),
});

/** Compiles one tool's policy; throws Error with a reason naming the sub-field (`field: reason`). */
export function compilePolicy(
  tool: string,
  spec: ToolPolicySpec,
  where: PolicySource | undefined,
  report: (field: string, msg: string) => void,
): ToolPolicy | undefined {
  let ok = true;
  const bad = (field: string, msg: string) => {
    ok = false;
    report(field, msg);
  };
  if (typeof tool !== 'string' || tool.length === 0 || Buffer.byteLength(tool) > LIMITS.maxStringBytes || CONTROL.test(tool)) {
    bad('', `tool name must be 1 to ${LIMITS.maxStringBytes} bytes without control characters`);
  }
  let resource: ResourceTemplate | undefined;
  try {
    resource = compileTemplate(spec.resource);
  } catch (e) {
    bad('resource', (e as Error).message);
  }
  if (typeof spec.operation !== 'string' || !PERMISSION.test(spec.operation)) bad('operation', `must match ${PERMISSION}`);
  let constraints: Record<string, Constraint> | undefined;
  if (spec.constraints !== undefined) {
    constraints = {};
    const entries = Object.entries(spec.constraints);
    if (entries.length > LIMITS.maxConstraintsPerGrant) bad('constraints', `at most ${LIMITS.maxConstraintsPerGrant} constraints`);
    for (const [name, c] of entries) {
      // `constraints[name] = …` would set the prototype, dropping the constraint without a word.
      if (name === '__proto__') {
        bad(`constraints.${name}`, RESERVED_ARGUMENT);
        continue;
      }
      try {
        constraints[name] = validateConstraint(name, c);
      } catch (e) {
        bad(`constraints.${name}`, (e as Error).message);
      }
    }
  }
  let proofWindow: number | undefined;
  if (spec.proofWindow !== undefined) {
    try {
      proofWindow = seconds(spec.proofWindow, LIMITS.maxInvocationWindow, 1);
    } catch (e) {
      bad('proofWindow', (e as Error).message);
    }
  }
  if (!ok || !resource) return undefined;
  return Object.freeze({
    tool,
    resource,
    operation: spec.operation,
    ...(constraints && Object.keys(constraints).length > 0 ? { constraints: Object.freeze(constraints) } : {}),
    attested: spec.attested === true,
    ...(proofWindow !== undefined ? { proofWindow } : {}),
    ...(where ? { where } : {}),
  });
}

/** A tool policy written in code. Throws ERR_CONFIG with the reason. */
export function definePolicy(tool: string, spec: ToolPolicySpec): ToolPolicy {
  const errors: string[] = [];
  const p = compilePolicy(tool, spec, undefined, (field, msg) => errors.push(`tools.${tool}${field ? '.' + field : ''}: ${msg}`));
  if (!p) throw configError(errors.join('\n'));
  return p;
}

/** Message prefix for a field of a policy: `capframe.yaml:14 tools.send_email.resource`. */
export function policyField(p: ToolPolicy, field: string): string {
  const line = p.where ? (p.where.lines[field] ?? p.where.line) : undefined;
  return `${p.where ? `${p.where.file}:${line} ` : ''}tools.${p.tool}.${field}`;
}
