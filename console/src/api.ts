// Calls to the console API (same origin, cookie sent by the browser, CSRF token on every POST).

export interface SessionInfo {
  loggedIn: boolean;
  csrf?: string;
  views: 'login' | 'public';
  loginPossible: boolean;
  features: { revocation: boolean; authority: boolean; audit: boolean };
}

let csrf = '';

export function setCsrf(token: string | undefined): void {
  csrf = token ?? '';
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(r: Response): Promise<T> {
  const body = (await r.json().catch(() => ({}))) as { code?: string; reason?: string };
  if (!r.ok) throw new ApiError(r.status, body.code ?? 'ERR_INTERNAL', body.reason ?? `HTTP ${r.status}`);
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(await fetch(`api/${path}`, { credentials: 'same-origin', cache: 'no-store' }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(
    await fetch(`api/${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'content-type': 'application/json', 'x-capframe-csrf': csrf },
      body: JSON.stringify(body),
    }),
  );
}

export const shortId = (id: string): string => id.slice(0, 12);
export { unix, when } from './time.js';
