/**
 * Plumbing shared by the MCP bench tools (mcp.ts, mcp-profile.ts,
 * mcp-threads.ts, mcp-ab.ts): an SDK client over Streamable HTTP, and the
 * server child (bench/mcp-server.ts, or another tree's) driven over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ServerUrls } from './mcp-server.ts';

/**
 * The SDK's client transport hands one AbortSignal to every fetch, and Node's
 * fetch keeps an abort listener on it per request until that request is
 * garbage-collected: thousands of listeners, each new one compared with all
 * of them and, past 1500, a warning with a stack trace per request. That
 * cost lands on bare and guarded calls alike and swamps their difference, so
 * the benchmark's clients fetch without the shared signal (nothing is aborted
 * here: every call is awaited before the transports close).
 */
const fetchWithoutSharedSignal: typeof fetch = (url, init) => fetch(url, { ...init, signal: null });

/** An MCP SDK client connected over Streamable HTTP. */
export async function connectMcp(url: string, name = 'bench'): Promise<Client> {
  const c = new Client({ name, version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWithoutSharedSignal }));
  return c;
}

export interface ServerChildOptions {
  /** The child's script. Default: this tree's bench/mcp-server.ts. */
  readonly entry?: string;
  readonly cwd?: string;
  /** Node flags after `--import tsx` (e.g. --cpu-prof). */
  readonly execArgv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The child's stdout: ignored unless asked for (--trace-opt writes there). */
  readonly stdout?: 'inherit' | 'ignore';
}

/** The server child: start, CPU time, thread split and in-context crypto samples on request, stop. */
export class ServerChild {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (m: Record<string, unknown>) => void>();
  #next = 0;
  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: { id?: number } & Record<string, unknown>) => {
      const w = m.id !== undefined ? this.#waiting.get(m.id) : undefined;
      if (w) {
        this.#waiting.delete(m.id!);
        w(m);
      }
    });
  }

  /** Forks the child, sends it `start` and waits for its endpoints. */
  static async start(start: object, o: ServerChildOptions = {}): Promise<{ child: ServerChild; urls: ServerUrls }> {
    const entry = o.entry ?? fileURLToPath(new URL('./mcp-server.ts', import.meta.url));
    const child = fork(entry, [], {
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.env ? { env: o.env } : {}),
      execArgv: ['--import', 'tsx', ...(o.execArgv ?? [])],
      stdio: ['ignore', o.stdout ?? 'ignore', 'inherit', 'ipc'],
    });
    const urls = await new Promise<ServerUrls>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`bench: the MCP server child exited (${code})`)));
      child.on('message', (r: { type: string; urls?: ServerUrls; message?: string }) => {
        if (r.type === 'ready') resolve(r.urls!);
        else if (r.type === 'error') reject(new Error(`bench: the MCP server child failed: ${r.message}`));
      });
      child.send(start);
    });
    child.removeAllListeners('exit');
    return { child: new ServerChild(child), urls };
  }

  #ask(type: string): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.send({ type, id });
    });
  }

  /** The child's CPU time so far (user + system), microseconds. */
  async cpu(): Promise<number> {
    return (await this.#ask('cpu')).us as number;
  }

  /** CPU time of the child's main thread and of its other threads so far, nanoseconds (Linux). */
  async threads(): Promise<{ main: number; other: number }> {
    const r = await this.#ask('threads');
    return { main: r.main as number, other: r.other as number };
  }

  /** Ed25519 sign / verify times measured inside server calls, microseconds. */
  async crypto(): Promise<{ sign: number[]; verify: number[] }> {
    const r = await this.#ask('crypto');
    return { sign: r.sign as number[], verify: r.verify as number[] };
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.send({ type: 'stop' });
    await exited;
  }
}
