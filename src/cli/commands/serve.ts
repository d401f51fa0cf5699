/** `capframe serve --config FILE`: the remote verification service (src/server). */
import { resolve } from 'node:path';
import type { Io } from '../command.ts';
import { integerFlag, parseFlags } from '../args.ts';
import { loadServerConfig } from '../../config/server.ts';
import { startService } from '../../server/start.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } });
  const file = resolve(io.cwd, f.required('config'));
  const port = f.string('port');
  const host = f.string('host');
  const cfg = loadServerConfig(file, io.env);
  const running = await startService(cfg, {
    ...(port !== undefined ? { port: integerFlag('port', port, 65535) } : {}),
    ...(host !== undefined ? { host } : {}),
  });
  io.stdout(
    `capframe serve: listening on ${running.url}` +
      `${running.console ? `; console at ${running.url}/ui/` : ''}` +
      `${running.audit ? `; audit log ${running.audit.path}` : ''}` +
      `${cfg.adminSecret ? '' : '; /v1/revoke disabled (no admin secret)'}` +
      `${running.verifier.replay.persistent ? '' : '; replay store in memory: proofs issued before this start (plus the clock skew) are refused'}\n`,
  );
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await running.close();
  io.stdout('capframe serve: stopped\n');
  return 0;
}
