/** `capframe serve --config FILE`: the remote verification service (src/server). */
import { resolve } from 'node:path';
import type { Command } from '../command.ts';
import { integerFlag, parseFlags } from '../args.ts';
import { loadServerConfig } from '../../server/config.ts';
import { startService } from '../../server/start.ts';

export const serve: Command = {
  name: 'serve',
  summary: 'run the verification service (POST /v1/verify, /healthz, /metrics)',
  usage: `Usage: capframe serve --config FILE [--port N] [--host ADDR]

Runs the capframe verification service over HTTP until SIGINT or SIGTERM.
FILE is the capframe YAML config: its 'trust' section gives the trusted
authority keys, its 'server' section the service settings (host, port,
bodyLimit, timeouts, maxConnections, adminSecretEnv / adminSecretFile,
audit.path / maxBytes / maxFiles / fsync, revocation.db / keyFile / maxAge).
Binds to 127.0.0.1 unless the
config or --host says otherwise.

Endpoints:
  POST /v1/verify   {"token","invocation","tool","args","operation","resource"} -> decision JSON
  POST /v1/revoke   {"token"} | {"id"} | {"subject"} | {"kid","before"} (Authorization: Bearer <admin secret>)
  GET  /v1/revocations[/stream]   the signed revocation snapshot and its push stream
  GET  /healthz     {"status":"ok"}
  GET  /metrics     Prometheus text: decisions by code, latency histogram

Options:
  --config FILE   the YAML config (required)
  --port N        overrides server.port (0: any free port)
  --host ADDR     overrides server.host
  -h, --help      show this help

Exit status: 0 after a clean shutdown, 1 when the service cannot start
(ERR_CONFIG on stderr), 2 usage error.`,
  async run(argv, io) {
    const f = parseFlags(argv, { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } });
    const file = resolve(io.cwd, f.required('config'));
    const port = f.string('port');
    const host = f.string('host');
    const cfg = loadServerConfig(file, io.env);
    const running = await startService(cfg, {
      ...(port !== undefined ? { port: integerFlag('port', port, 65535) } : {}),
      ...(host !== undefined ? { host } : {}),
    });
    io.stdout(`capframe serve: listening on ${running.url}` +
      `${running.audit ? `; audit log ${running.audit.path}` : ''}` +
      `${cfg.adminSecret ? '' : '; /v1/revoke disabled (no admin secret)'}` +
      `${running.verifier.replay.persistent ? '' : '; replay store in memory: proofs issued before this start (plus the clock skew) are refused'}\n`);
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
  },
};
