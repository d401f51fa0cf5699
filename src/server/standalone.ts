/**
 * Runs the service in its own process, for benchmarks and soak tests:
 *   node --import tsx src/server/standalone.ts CONFIG [PORT]
 * Prints one JSON line {"url": ...} when listening; stops on SIGTERM/SIGINT
 * or when its parent's stdin closes.
 */
import { loadServerConfig } from '../config/server.ts';
import { startService } from './start.ts';

const [config, port] = process.argv.slice(2);
const running = await startService(loadServerConfig(config!), port !== undefined ? { port: Number(port) } : {});
process.stdout.write(JSON.stringify({ url: running.url, pid: process.pid }) + '\n');
const stop = () => {
  void running.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
