/**
 * The top-level `approvers:` section: names for approver public keys, so that
 * a grant's approval gate can say who approves in words.
 *
 *   approvers:
 *     alice: cfk1.…            # a public key
 *     bob: ./keys/bob.pub      # or a public key file (relative to the config file; ${VAR} allowed)
 *
 *   server.authority.profiles.P.grants[i] / subagents.S.grants[i]:
 *     approval: { approvers: [alice, bob, cfk1.…], threshold: 2 }
 *
 * Names are replaced by their keys before the grants are checked, so a gate
 * is exactly what a token carries (keys; names never reach the wire). A name
 * no entry defines is an ERR_CONFIG naming its line.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { formatPublicKey, parsePublicKey, PUBLIC_KEY_PREFIX } from '../crypto/keys.ts';
import { interpolate } from './common.ts';
import { readAuthorityFile } from './trust.ts';

export const APPROVER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export const approversSectionSchema = z.record(
  z.string().regex(APPROVER_NAME, { error: `an approver name must match ${APPROVER_NAME}` }),
  z.string({ error: 'expected a cfk1.… public key or the path of a .pub file' }).min(1),
);

type Report = (path: readonly (string | number)[], message: string) => void;

/** The section's keys by name (cfk1. text), each read and checked; problems reported per entry. */
export function readApprovers(section: unknown, baseDir: string, env: Readonly<Record<string, string | undefined>>, report: Report): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof section !== 'object' || section === null || Array.isArray(section)) return out;
  for (const [name, v] of Object.entries(section as Record<string, unknown>)) {
    if (!APPROVER_NAME.test(name)) {
      report(['approvers', name], `an approver name must match ${APPROVER_NAME}`);
      continue;
    }
    if (typeof v !== 'string') continue; // the schema reports it
    try {
      if (v.startsWith(PUBLIC_KEY_PREFIX)) {
        out.set(name, formatPublicKey(parsePublicKey(v)));
        continue;
      }
      const p = interpolate(v, env);
      const keys = readAuthorityFile(isAbsolute(p) ? p : resolve(baseDir, p));
      if (keys.length !== 1) throw new Error('an approver file holds exactly one public key');
      out.set(name, formatPublicKey(keys[0]!));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      report(['approvers', name], code ? `cannot read ${v} (${code})` : (e as Error).message);
    }
  }
  return out;
}

/** Where grants with approval gates are, in the raw config: [path to a grants list]. */
function grantLists(data: Record<string, unknown>): (readonly (string | number)[])[] {
  const out: (string | number)[][] = [];
  const each = (obj: unknown, base: string[]) => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v === 'object' && v !== null && Array.isArray((v as { grants?: unknown }).grants)) out.push([...base, k, 'grants']);
    }
  };
  const server = data.server as { authority?: { profiles?: unknown } } | null | undefined;
  each(server?.authority?.profiles, ['server', 'authority', 'profiles']);
  each(data.subagents, ['subagents']);
  return out;
}

/**
 * Replaces approver names in every grant's `approval.approvers` (authority
 * profiles, sub-agents) by their keys, in place, before the schema checks the
 * grants; an unknown name is reported at its own path.
 */
export function resolveApproverNames(data: Record<string, unknown>, approvers: ReadonlyMap<string, string>, report: Report): void {
  for (const path of grantLists(data)) {
    let grants: unknown = data;
    for (const k of path) grants = (grants as Record<string | number, unknown>)[k];
    (grants as unknown[]).forEach((g, i) => {
      const list = (g as { approval?: { approvers?: unknown } } | null)?.approval?.approvers;
      if (!Array.isArray(list)) return;
      list.forEach((a: unknown, j) => {
        if (typeof a !== 'string' || a.startsWith(PUBLIC_KEY_PREFIX)) return;
        const key = approvers.get(a);
        if (key !== undefined) list[j] = key;
        else
          report(
            [...path, i, 'approval', 'approvers', j],
            `unknown approver ${JSON.stringify(a)} (not a ${PUBLIC_KEY_PREFIX}… key, and not a name in approvers:)`,
          );
      });
    });
  }
}
