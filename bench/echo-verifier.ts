/**
 * The transport floor of remote verification (a control, not capframe): a
 * CallVerifier that sends each call as one JSON line of a session call's
 * size over a TCP stream, coalesced per event-loop turn, to a child process
 * that answers every line at once with a line of a session answer's size,
 * and allows on the answer. No sealing, no
 * tags, no checks, no audit on either side: what one round trip per call
 * costs on this machine with the same workload around it. Used by
 * bench/session-profile.ts (WAYS=echo).
 *
 * Child: `node --import tsx bench/echo-verifier.ts serve` prints its port.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Decision, LocalCall } from '../src/verify/verifier.ts';

/** A session call line and a session answer line are about this long (bench workload). */
const CALL_PAD = 'x'.repeat(150);
const ANSWER_PAD = 'y'.repeat(420);

/** Calls `line` for each whole line the socket reads, then `after` once per read. */
function onLines(socket: Socket, line: (text: string) => void, after?: () => void): void {
  socket.setNoDelay(true);
  socket.setEncoding('utf8');
  let partial = '';
  socket.on('data', (chunk: string) => {
    const text = partial + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      line(text.slice(from, nl));
      from = nl + 1;
    }
    partial = text.slice(from);
    after?.();
  });
}

if (process.argv[2] === 'serve') {
  const server = createServer((s) => {
    let out = '';
    onLines(
      s,
      (line) => {
        const call = JSON.parse(line) as { n: number };
        out += JSON.stringify({ n: call.n, decision: ANSWER_PAD }) + '\n';
      },
      () => {
        if (out !== '') s.write(out);
        out = '';
      },
    );
    s.on('error', () => s.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
}

export class EchoVerifier {
  readonly #socket: Socket;
  readonly #waiting = new Map<number, (d: Decision) => void>();
  #n = 0;
  #out = '';
  #scheduled = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    onLines(socket, (line) => {
      const a = JSON.parse(line) as { n: number; decision: string };
      const w = this.#waiting.get(a.n);
      this.#waiting.delete(a.n);
      w?.(ALLOW);
    });
  }

  static async connect(port: number): Promise<EchoVerifier> {
    const s = createConnection({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new EchoVerifier(s);
  }

  verifyCall(_token: unknown, call: LocalCall): Promise<Decision> {
    return new Promise((resolve) => {
      const n = ++this.#n;
      this.#waiting.set(n, resolve);
      this.#out += JSON.stringify({ n, tool: call.tool, resource: call.resource, args: call.args, pad: CALL_PAD }) + '\n';
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          const out = this.#out;
          this.#out = '';
          this.#socket.write(out);
        });
      }
    });
  }

  verifyInvocation(): Promise<Decision> {
    return Promise.reject(new Error('unused'));
  }

  close(): void {
    this.#socket.destroy();
  }
}

const ALLOW = Object.freeze({
  tool: 'get_ticket',
  operation: 'read',
  resource: 'tickets://acme/1',
  callId: 'echo',
  argsDigest: '',
  mode: 'session',
  allowed: true,
  grant: { resource: 'tickets://acme/*', permissions: ['read'], constraints: {} },
  expiresAt: 0,
}) as unknown as Decision;

/** Starts the echo child; resolves with its port and a stop function. */
export async function startEcho(): Promise<{ port: number; pid: number; stop: () => void }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (c) => reject(new Error(`echo child exited (${c})`)));
  });
  return { port, pid: child.pid!, stop: () => child.kill() };
}
