/** The member-by-member copy the MCP client and guard use on every call instead of an object spread. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyOwn } from '../../src/mcp/copy.ts';

test('copyOwn copies own members in order, not inherited ones, and the original is unchanged', () => {
  const proto = { inherited: 1 };
  const o = Object.assign(Object.create(proto) as Record<string, unknown>, { name: 'read_ticket', arguments: { id: '1' }, _meta: { a: 1 } });
  const c = copyOwn(o);
  assert.deepEqual(Object.keys(c), ['name', 'arguments', '_meta']);
  assert.equal(c.arguments, o.arguments, 'shallow');
  assert.equal('inherited' in c, false);
  c._meta = { b: 2 };
  assert.deepEqual(o._meta, { a: 1 });
});

test('copyOwn keeps a "__proto__" member a member: the copy keeps the plain prototype', () => {
  const o = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
  const c = copyOwn(o);
  assert.equal(Object.getPrototypeOf(c), Object.prototype);
  assert.equal((c as { polluted?: unknown }).polluted, undefined);
  assert.ok(Object.prototype.hasOwnProperty.call(c, '__proto__'));
  assert.deepEqual(Object.getOwnPropertyDescriptor(c, '__proto__')?.value, { polluted: true });
  assert.equal(c.x, 1);
});
