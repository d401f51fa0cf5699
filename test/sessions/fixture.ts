// Shared by the session tests that talk to a real service over HTTP.
import { request } from 'undici';
import type { LocalCall } from '../../src/index.ts';

/** Call i of the tests: get_ticket on tickets://acme/i. */
export const sessionCall = (i: number, resource = `tickets://acme/${i}`): LocalCall => ({
  tool: 'get_ticket',
  operation: 'read',
  resource,
  args: { id: i },
  callId: `c-${i}`,
});

/** POST a JSON body to base + path; the status and the parsed answer. */
export async function postJson(base: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: await res.body.json() };
}
