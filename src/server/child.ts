/**
 * Runs the service in a child process (benchmarks, soak): the service then
 * has its own event loop and core, as in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildService {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly dir: string;
  /** Resident set size of the child, bytes (from /proc; 0 where unavailable). */
  rss(): number;
  /** Stops the process (SIGTERM, then SIGKILL after 3 s); removes the temp dir unless `keepDir`. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./standalone.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Writes `configYaml` to a temp dir (relative paths in it resolve there) and starts the service on a free port. */
export async function spawnService(configYaml: string, env: NodeJS.ProcessEnv = {}, execArgv: readonly string[] = []): Promise<ChildService> {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-service-'));
  const file = join(dir, 'capframe.yaml');
  writeFileSync(file, configYaml);
  const child = spawn(process.execPath, [...execArgv, '--import', 'tsx', ENTRY, file, '0'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const info = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        child.stdout!.off('data', onData);
        try {
          resolve(JSON.parse(buf.slice(0, nl)));
        } catch (e) {
          reject(e);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`service exited during start (code ${code})`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url: info.url,
    pid: info.pid,
    child,
    dir,
    rss() {
      try {
        const status = readFileSync(`/proc/${info.pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+) kB/.exec(status);
        return m ? Number(m[1]) * 1024 : 0;
      } catch {
        return 0;
      }
    },
    async stop(options = {}) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
