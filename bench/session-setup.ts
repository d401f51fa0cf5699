/**
 * What the session development tools (bench/session-profile.ts,
 * bench/session-ab.ts) share: the tool-calls workload's tool and policy, an
 * authority, a holder with its token, the service's session key in a file,
 * the verification service's YAML, and CPU time of a child process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { formatPublicKey, generateKey, type PrivateKey, type Token } from '../src/index.ts';
import { serializePrivateKey } from '../src/crypto/keys.ts';
import { BENCH_SKEW, benchToken } from './support.ts';

/** The tool-calls workload's tool: a 12 ms wait. */
export const getTicket = tool(
  async ({ id }: { id: number }) => {
    await sleep(12);
    return `ticket ${id}`;
  },
  { name: 'get_ticket', description: 'Reads one support ticket.', schema: z.object({ id: z.number() }) },
);
export const POLICY = { get_ticket: { resource: 'tickets://acme/{id}', operation: 'read' } };

/** CPU time (user + system) of a process so far, microseconds, from /proc (clock ticks of 10 ms). */
export function processCpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // utime, stime: fields 14 and 15 (1-based)
  return (Number(rest[11]) + Number(rest[12])) * 10_000;
}

export interface SessionBench {
  readonly authority: PrivateKey;
  readonly holder: PrivateKey;
  readonly token: Token;
  readonly serviceKey: PrivateKey;
  /** The service's config: the authority trusted, sessions on, an audit file; CONSOLE=off leaves the console out. */
  readonly yaml: string;
  /** Removes the key file's folder. */
  cleanup(): void;
}

export function sessionBench(): SessionBench {
  const { authority, holder, token } = benchToken();
  const serviceKey = generateKey();
  const dir = mkdtempSync(join(tmpdir(), 'capframe-session-bench-'));
  const keyFile = join(dir, 'service.key');
  writeFileSync(keyFile, serializePrivateKey(serviceKey), { mode: 0o600 });
  const yaml = `trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
  replayCacheSize: 100000
  clockSkew: ${BENCH_SKEW}
server:
  host: 127.0.0.1
  port: 0
  audit:
    path: ./audit.jsonl
  sessions:
    keyFile: ${keyFile}
    handshakesPerSecond: 1000
${process.env.CONSOLE === 'off' ? '  console:\n    enabled: false\n' : ''}`;
  return { authority, holder, token, serviceKey, yaml, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
