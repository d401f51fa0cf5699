/**
 * Whether a token could allow some call of a tool, without the call's
 * arguments: used only to hide tools from `tools/list`, never to allow a
 * call. It over-approximates (a tool it shows may still deny every call the
 * caller makes); it never hides a tool the token can use.
 */
import type { ToolPolicy } from '../config/tools.ts';
import type { Pattern } from '../token/resource.ts';
import type { Chain } from '../token/chain.ts';

/** Template segments: literal text, or `null` where a placeholder makes the segment any value. */
function templateSegments(text: string): { scheme: string; segments: (string | null)[] } {
  const sep = text.indexOf('://');
  return {
    scheme: text.slice(0, sep).toLowerCase(),
    segments: text
      .slice(sep + 3)
      .split('/')
      .map((s) => (s.includes('{') ? null : s)),
  };
}

/** Could the pattern match some rendering of the template? (A placeholder never renders a "/".) */
function overlaps(p: Pattern, t: { scheme: string; segments: (string | null)[] }): boolean {
  if (p.scheme !== t.scheme) return false;
  for (let i = 0; i < p.segments.length; i++) {
    const ps = p.segments[i]!;
    if (ps === '**') return t.segments.length > i;
    if (i >= t.segments.length) return false;
    const ts = t.segments[i];
    if (ps !== '*' && ts !== null && ps !== ts) return false;
  }
  return p.segments.length === t.segments.length;
}

/** True when every block of the chain has a grant with the tool's operation on a pattern the template may render into. */
export function mayUse(chain: Chain, policy: ToolPolicy): boolean {
  const t = templateSegments(policy.resource.text);
  return chain.blocks.every((b) => b.grants.some((g) => g.permissions.includes(policy.operation) && overlaps(g.pattern, t)));
}
