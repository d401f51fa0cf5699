/**
 * Per-call CPU of the session way, client and service apart (a development
 * tool, not a suite): the tool-calls workload (12 ms tool, N in flight)
 * bare and over sessions, alternating, with process.cpuUsage() for the
 * client (this process) and /proc/<pid>/stat for the service child.
 *
 *   npx tsx bench/session-profile.ts [calls=20000] [inFlight=100] [rounds=4]
 *
 * Environment: WAYS=bare,local,async,session (which ways, in this order per
 * round; "async" is the guard with an in-process check behind a promise, to
 * tell the asynchronous path's cost from the session's; "echo" is the guard
 * over a stream to a child that answers each line at once, no capframe code
 * on the far end: the transport's floor, bench/echo-verifier.ts; "sleep" and "verify"
 * leave LangChain out: the 12 ms wait alone, and RemoteVerifier.verifyCall
 * over the session then the wait), MAX_REQUESTS and
 * MAX_BATCH (the RemoteVerifier's HTTP batching), TRANSPORT=stream|http (how
 * session calls travel, default stream), SERVICE_PROF=dir (the service
 * runs with --cpu-prof into dir), CONSOLE=off (the service without its
 * console, whose live view reads every decision). Run the client with node --cpu-prof
 * --import tsx for its profile.
 *
 * Prints one JSON line per round and a summary: microseconds of CPU per call
 * (client: bare and session, their difference is what the session way adds
 * on the client's event loop; service: all of it), p50 latencies, HTTP
 * requests per call.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Verifier } from '../src/index.ts';
import { Guard, guardTool } from '../src/langchain/index.ts';
import { RemoteVerifier } from '../src/remote/client.ts';
import { spawnService } from '../src/server/child.ts';
import { percentile } from './stats.ts';
import { load, check } from './tool-calls.ts';
import { waitPastStart } from './support.ts';
import { EchoVerifier, startEcho } from './echo-verifier.ts';
import { getTicket, POLICY, processCpuUs as serviceCpuUs, sessionBench } from './session-setup.ts';

const calls = Number(process.argv[2] ?? 20_000);
const inFlight = Number(process.argv[3] ?? 100);
const rounds = Number(process.argv[4] ?? 4);

const { authority, holder, token, serviceKey, yaml, cleanup } = sessionBench();
const service = await spawnService(yaml, {}, process.env.SERVICE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SERVICE_PROF}`] : []);
try {
  await waitPastStart();
  const v = new RemoteVerifier({
    url: service.url,
    connections: 32,
    serviceKey: serviceKey.publicKey,
    timeout: 15_000,
    ...(process.env.MAX_REQUESTS ? { maxRequests: Number(process.env.MAX_REQUESTS) } : {}),
    ...(process.env.MAX_BATCH ? { maxBatch: Number(process.env.MAX_BATCH) } : {}),
    ...(process.env.TRANSPORT ? { sessionTransport: process.env.TRANSPORT as 'stream' | 'http' } : {}),
  });
  const sessionTool = guardTool(getTicket, new Guard({ verifier: v, policies: POLICY, sink: null, attestAll: true }));
  const localTool = guardTool(getTicket, new Guard({ verifier: new Verifier({ trusted: [authority.publicKey] }), policies: POLICY, sink: null }));
  // The guard's asynchronous path without any transport: a CallVerifier that answers with the in-process check after a
  // setImmediate (as a queued remote call would), to tell the cost of the asynchronous way apart from the session's own.
  const inproc = new Verifier({ trusted: [authority.publicKey] });
  const asyncVerifier = {
    verifyCall: (t: never, call: never) => new Promise((r) => setImmediate(() => r(inproc.authorize(t, call)))),
    verifyInvocation: () => Promise.reject(new Error('unused')),
  } as never;
  const asyncTool = guardTool(getTicket, new Guard({ verifier: asyncVerifier, policies: POLICY, sink: null }));
  // The transport floor: the same guard over a stream to a child that answers every line at once (bench/echo-verifier.ts).
  const echo = await startEcho();
  const echoVerifier = await EchoVerifier.connect(echo.port);
  const echoTool = guardTool(getTicket, new Guard({ verifier: echoVerifier as never, policies: POLICY, sink: null }));
  const config = { configurable: { capframe: { token, holderKey: holder } } };
  const ways = {
    bare: async (i: number) => check(await getTicket.invoke({ type: 'tool_call', id: `b-${i}`, name: 'get_ticket', args: { id: i } }, config), 'bare'),
    local: async (i: number) => check(await localTool.invoke({ type: 'tool_call', id: `l-${i}`, name: 'get_ticket', args: { id: i } }, config), 'local'),
    async: async (i: number) => check(await asyncTool.invoke({ type: 'tool_call', id: `a-${i}`, name: 'get_ticket', args: { id: i } }, config), 'async'),
    echo: async (i: number) => check(await echoTool.invoke({ type: 'tool_call', id: `e-${i}`, name: 'get_ticket', args: { id: i } }, config), 'echo'),
    session: async (i: number) => check(await sessionTool.invoke({ type: 'tool_call', id: `s-${i}`, name: 'get_ticket', args: { id: i } }, config), 'session'),
    // Without LangChain: the 12 ms wait alone, and the RemoteVerifier's session call before it (their difference is the
    // verifier's own client CPU: seal, queue, HTTP batch, answer check).
    sleep: async () => {
      await sleep(12);
    },
    verify: async (i: number) => {
      const d = await v.verifyCall(
        token,
        { tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `v-${i}` },
        { holderKey: holder },
      );
      if (!d.allowed) throw new Error(`bench: a verify call was denied: ${d.code}`);
      await sleep(12);
    },
  };
  await load(1000, inFlight, 1e7, ways.bare, null);
  await load(1000, inFlight, 1e7, ways.local, null);
  await load(1000, inFlight, 1e7, ways.async, null);
  await load(1000, inFlight, 1e7, ways.session, null);
  await load(1000, inFlight, 1e7, ways.echo, null);
  const sum = {
    bare: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0 },
    local: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0 },
    async: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0 },
    session: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0, req: 0 },
    echo: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0 },
    sleep: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0 },
    verify: { cpu: 0, svc: 0, n: 0, lat: [] as number[], s: 0, req: 0 },
  };
  for (let r = 0; r < rounds; r++) {
    for (const name of (process.env.WAYS ?? 'bare,local,session').split(',') as (keyof typeof ways)[]) {
      const lat: number[] = [];
      const req0 = v.sessionStats.requests;
      const c0 = process.cpuUsage();
      const pid = name === 'echo' ? echo.pid : service.pid;
      const s0 = serviceCpuUs(pid);
      const secs = await load(calls, inFlight, r * calls + 1e6, ways[name], lat);
      const c = process.cpuUsage(c0);
      const s = serviceCpuUs(pid) - s0;
      const w = sum[name];
      w.cpu += c.user + c.system;
      w.svc += s;
      w.n += calls;
      w.s += secs;
      w.lat.push(...lat);
      if (name === 'session' || name === 'verify') sum[name].req += v.sessionStats.requests - req0;
      process.stdout.write(
        JSON.stringify({
          round: r,
          way: name,
          clientUsPerCall: +((c.user + c.system) / calls).toFixed(2),
          clientSystemUsPerCall: +(c.system / calls).toFixed(2),
          serviceUsPerCall: +(s / calls).toFixed(2),
          p50: +percentile(lat, 50).toFixed(3),
          perS: Math.round(calls / secs),
        }) + '\n',
      );
    }
  }
  const b = sum.bare,
    l = sum.local,
    a = sum.async,
    s = sum.session;
  process.stdout.write(
    JSON.stringify({
      inFlight,
      clientUsPerCall: {
        bare: +(b.cpu / b.n).toFixed(2),
        local: +(l.cpu / l.n).toFixed(2),
        async: +(a.cpu / a.n).toFixed(2),
        session: +(s.cpu / s.n).toFixed(2),
        added: +((s.cpu - b.cpu) / b.n).toFixed(2),
      },
      serviceUsPerCall: +(s.svc / s.n).toFixed(2),
      verifierOnly: sum.verify.n
        ? {
            clientUsPerCall: +((sum.verify.cpu - sum.sleep.cpu * (sum.verify.n / Math.max(sum.sleep.n, 1))) / sum.verify.n).toFixed(2),
            sleepClientUsPerCall: +(sum.sleep.cpu / Math.max(sum.sleep.n, 1)).toFixed(2),
            serviceUsPerCall: +(sum.verify.svc / sum.verify.n).toFixed(2),
            callsPerRequest: +(sum.verify.n / Math.max(sum.verify.req, 1)).toFixed(2),
          }
        : null,
      serviceIdleUsPerCallDuringBare: +(b.svc / b.n).toFixed(2),
      p50: {
        bare: +percentile(b.lat, 50).toFixed(3),
        local: +percentile(l.lat, 50).toFixed(3),
        async: +percentile(a.lat, 50).toFixed(3),
        session: +percentile(s.lat, 50).toFixed(3),
      },
      addedP50: +(percentile(s.lat, 50) - percentile(b.lat, 50)).toFixed(3),
      ratio: +(b.s / s.s).toFixed(3),
      echo: sum.echo.n
        ? {
            addedP50: +(percentile(sum.echo.lat, 50) - percentile(b.lat, 50)).toFixed(3),
            ratio: +(b.s / b.n / (sum.echo.s / sum.echo.n)).toFixed(3),
            clientUsPerCall: +(sum.echo.cpu / sum.echo.n).toFixed(2),
            serverUsPerCall: +(sum.echo.svc / sum.echo.n).toFixed(2),
          }
        : null,
      callsPerRequest: +(s.n / s.req).toFixed(2),
      load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    }) + '\n',
  );
  await v.close();
  echoVerifier.close();
  echo.stop();
} finally {
  await service.stop();
  cleanup();
}
