/**
 * Revocation suite: the per-call check against a 100,000-id snapshot (cached
 * and uncached, exact id list), snapshot and bloom filter sizes, build and
 * load time, propagation from `revoke` to a verifier subscribed to the push
 * stream denying (in process: registry -> HTTP/SSE on 127.0.0.1 ->
 * RevocationSync), and the bytes the stream pushes per change (a delta).
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delegate, generateKey, issueToken, Verifier, type Chain, type PrivateKey, type Token } from '../src/index.ts';
import { RevocationRegistry } from '../src/revocation/registry.ts';
import { exportSnapshot } from '../src/revocation/publisher.ts';
import { startRevocationServer } from '../src/server/revocation-feed.ts';
import { RevocationState } from '../src/revocation/state.ts';
import { parseSnapshot } from '../src/revocation/snapshot.ts';
import { Keyring } from '../src/index.ts';
import { RevocationSync } from '../src/remote/revocation-sync.ts';
import { SnapshotPublisher } from '../src/revocation/publisher.ts';
import { BloomRevocationState } from '../src/revocation/bloom-state.ts';
import { bloomHas, parseBloomForm } from '../src/revocation/bloom.ts';
import { nowNs, elapsedUs, percentile, round } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';

function chain3(authority: PrivateKey): Token {
  const [a, b, c] = [generateKey(), generateKey(), generateKey()];
  const root = issueToken({
    key: authority,
    subject: 'agent-1',
    holder: a.publicKey,
    grants: [{ resource: 'db://users/*', permissions: ['read'] }],
    ttl: '1h',
    maxDepth: 2,
  });
  const two = delegate(root, { key: a, to: b.publicKey, subject: 'summarizer', ttl: '30m' });
  return delegate(two, { key: b, to: c.publicKey, subject: 'helper', ttl: '10m' });
}

const fmt = (n: number, unit: string): string => `${round(n, n < 10 ? 3 : 1)} ${unit}`;

async function run(ctx: BenchContext): Promise<BenchResult> {
  const N = ctx.quick ? 10_000 : 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bench-rev-'));
  const authority = generateKey();
  const registry = new RevocationRegistry({ path: join(dir, 'authority.db') });
  try {
    registry.revokeIds(Array.from({ length: N }, () => randomBytes(16).toString('hex')));

    // Build: read the registry, fill the bloom filter, sort, encode, sign (what `revocations export` does).
    let t = nowNs();
    const snap = exportSnapshot(registry, authority);
    const buildMs = elapsedUs(t) / 1000;

    const state = new RevocationState({ trusted: [authority.publicKey] });
    t = nowNs();
    state.update(snap.text);
    const loadMs = elapsedUs(t) / 1000;

    const verifier = new Verifier({ trusted: [authority.publicKey] });
    const chain: Chain = verifier.verifyToken(chain3(authority));
    const now = Math.floor(Date.now() / 1000);

    // Uncached: distinct Chain objects (same ids), so every check misses the per-chain cache.
    const copies = Array.from({ length: ctx.quick ? 2_000 : 20_000 }, () => ({ ...chain }) as Chain);
    for (let i = 0; i < 200; i++) state.check({ ...chain } as Chain, now); // warm-up
    t = nowNs();
    for (const c of copies) state.check(c, now);
    const uncachedUs = elapsedUs(t) / copies.length;

    // The compact form (§10.9): built from the same registry, then an uncached check of a chain that
    // misses the filter (the usual case: no I/O) and one whose hit is confirmed (answer remembered).
    const publisher = new SnapshotPublisher({ registry, key: authority });
    publisher.refresh(); // reads the registry (timed above as part of the snapshot build)
    t = nowNs();
    const compact = publisher.currentBloom();
    const bloomBuildMs = elapsedUs(t) / 1000;
    let asked = 0;
    const bloomState = new BloomRevocationState({
      trusted: [authority.publicKey],
      confirm: async () => {
        asked++;
        return { revoked: [] };
      },
    });
    bloomState.update(compact.text);
    for (let i = 0; i < 200; i++) await bloomState.check({ ...chain } as Chain, now);
    asked = 0;
    t = nowNs();
    let pending = 0;
    for (const c of copies) if (bloomState.check(c, now) !== undefined) pending++;
    const bloomUncachedUs = elapsedUs(t) / copies.length;
    // One id against the filter (one SHA-256 and k bit tests), apart from the chain handling.
    const probe = randomBytes(16 * 20_000);
    const filter = parseBloomForm(compact.bytes, new Keyring([authority.publicKey])).bloom;
    for (let o = 0; o < 16 * 1000; o += 16) bloomHas(filter, probe.subarray(o, o + 16));
    t = nowNs();
    let probeHits = 0;
    for (let o = 0; o < probe.length; o += 16) if (bloomHas(filter, probe.subarray(o, o + 16))) probeHits++;
    const bloomPerIdUs = elapsedUs(t) / (probe.length / 16);
    // Exact form on the same copies again, interleaved in time with the bloom run (same machine load).
    t = nowNs();
    for (const c of copies) state.check(c, now);
    const uncachedUs2 = elapsedUs(t) / copies.length;

    // Cached: the same Chain object, as a verifier with a warm chain cache passes it.
    const iters = ctx.quick ? 200_000 : 2_000_000;
    for (let i = 0; i < 10_000; i++) state.check(chain, now);
    t = nowNs();
    for (let i = 0; i < iters; i++) state.check(chain, now);
    const cachedUs = elapsedUs(t) / iters;

    // Propagation: revoke -> authority pushes the new snapshot -> the subscribed verifier denies.
    const server = await startRevocationServer({ registry, key: authority });
    const live = new RevocationState({ trusted: [authority.publicKey] });
    const sync = new RevocationSync({ url: server.url, state: live, pollInterval: 3600, timeoutMs: 120_000 });
    const guarded = new Verifier({ trusted: [authority.publicKey], revocation: live });
    const samples: number[] = [];
    // A second subscriber that only counts what the stream sends it after the first (snapshot) event.
    let pushed = 0;
    let firstEvent = true;
    const counter = request(`${server.url}/v1/revocations/stream`, { headers: { accept: 'text/event-stream' } }, (res) => {
      let head = ''; // what arrived until the connect-time snapshot event ended
      res.on('data', (c: Buffer) => {
        if (firstEvent) {
          head += c.toString('latin1');
          const start = head.indexOf('event: snapshot');
          const end = start < 0 ? -1 : head.indexOf('\n\n', start);
          if (end < 0) return;
          firstEvent = false;
          pushed += head.length - (end + 2);
          head = '';
          return;
        }
        pushed += c.length;
      });
    });
    counter.on('error', () => {});
    counter.end();
    try {
      await sync.start();
      while (firstEvent) await new Promise((r) => setTimeout(r, 5));
      while (!sync.connected) await new Promise((r) => setTimeout(r, 5));
      const rounds = ctx.quick ? 3 : 15;
      let n = 0;
      for (let i = 0; i < rounds; i++) {
        const token = chain3(authority);
        const call = () => guarded.authorize(token, { tool: 't', operation: 'read', resource: 'db://users/alice', args: {}, callId: `c${++n}` });
        const before = await call();
        if (!before.allowed) throw new Error(`bench setup: live token denied: ${before.code}`);
        const target = registry.version + 1;
        const updated = new Promise<void>((resolve) => {
          const off = live.onUpdate((r) => {
            if (r.version >= target) {
              off();
              resolve();
            }
          });
        });
        const t0 = nowNs();
        registry.revokeToken(token);
        await updated;
        const d = await call();
        const ms = elapsedUs(t0) / 1000;
        if (d.allowed || d.code !== 'ERR_REVOKED') throw new Error('bench: revoked token was not denied');
        samples.push(ms);
      }
      await new Promise((r) => setTimeout(r, 50)); // the last delta reaches the counting subscriber
    } finally {
      counter.destroy();
      sync.stop();
      await server.close();
    }
    const propagationMs = percentile(samples, 50);
    const pushBytes = pushed / samples.length;
    // The filter of the compact form (the snapshot's own key-6 filter, bloom-filters, is reported beside it).
    const bloomBytes = compact.bytes.length;
    const snapshotBloomBytes = parseSnapshot(snap.text, new Keyring([authority.publicKey])).bloom.filter.length;

    const metrics = {
      revocation_check_cached_us: round(cachedUs, 4),
      revocation_check_uncached_us: round(uncachedUs, 2),
      revocation_check_uncached_us_rerun: round(uncachedUs2, 2),
      revocation_bloom_check_uncached_us: round(bloomUncachedUs, 2),
      revocation_bloom_check_confirmations: asked + pending,
      revocation_bloom_check_per_id_us: round(bloomPerIdUs, 3),
      revocation_bloom_false_positive_rate: round(probeHits / (probe.length / 16), 4),
      revocation_bloom_form_bytes_100k: compact.bytes.length,
      revocation_bloom_build_ms_100k: round(bloomBuildMs, 1),
      revocation_snapshot_bytes_100k: snap.bytes.length,
      revocation_build_ms_100k: round(buildMs, 1),
      revocation_load_ms_100k: round(loadMs, 1),
      revocation_propagation_ms: round(propagationMs, 1),
      revocation_propagation_ms_max: round(Math.max(...samples), 1),
      revocation_push_bytes_per_change: round(pushBytes, 0),
      revocation_bloom_bytes_100k: bloomBytes,
      revocation_snapshot_bloom_field_bytes_100k: snapshotBloomBytes,
    };
    const rows: BenchRow[] = [
      { name: 'revocation check, cached chain', value: fmt(cachedUs, 'us'), target: '< 1 us', ok: cachedUs < 1 },
      { name: `revocation check, uncached 3-block chain vs ${N} ids (exact list)`, value: fmt(uncachedUs, 'us') },
      { name: `revocation check, uncached 3-block chain vs the ${N}-id compact form (filter miss)`, value: fmt(bloomUncachedUs, 'us') },
      { name: `snapshot size, ${N} ids (binary; text is 4/3)`, value: `${snap.bytes.length} bytes` },
      { name: `snapshot build + sign, ${N} ids`, value: fmt(buildMs, 'ms') },
      { name: `snapshot verify + install, ${N} ids`, value: fmt(loadMs, 'ms') },
      {
        name: `propagation revoke -> subscribed verifier denies (p50 of ${samples.length}, ${N}-id registry)`,
        value: fmt(propagationMs, 'ms'),
        target: '<= 100 ms',
        ok: propagationMs <= 100,
      },
      { name: `bytes pushed per change to a subscriber (${N}-id registry)`, value: `${round(pushBytes, 0)} bytes`, target: '<= 1024', ok: pushBytes <= 1024 },
      { name: `signed compact form (bloom only, 1 %), ${N} ids`, value: `${bloomBytes} bytes`, target: '~120 KB' },
      { name: `compact form build (filter + sign), ${N} ids`, value: fmt(bloomBuildMs, 'ms') },
      { name: 'compact form: one id against the filter (SHA-256 + k bit tests)', value: fmt(bloomPerIdUs, 'us') },
      { name: 'compact form: measured false-positive rate (random ids)', value: `${round((100 * probeHits) / (probe.length / 16), 2)} %`, target: '~1 %' },
    ];
    return { metrics, rows };
  } finally {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const revocationSuite: Suite = { name: 'revocation', default: true, run };
