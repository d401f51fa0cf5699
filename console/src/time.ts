// Times for the page. No DOM here: the tests import this module under Node.

/** ISO time of `ms`, or "-" when it is not a time a Date can hold (a huge cut-off must not break the page). */
function iso(ms: number): string | null {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString().replace('T', ' ') : null;
}
export const when = (ms: number): string => iso(ms)?.slice(0, 23) ?? '-';
export const unix = (s: number | null): string => (s === null ? '-' : (iso(s * 1000)?.slice(0, 19) ?? '-'));
