/**
 * The content checks against a config's expectations, on a small dump read by the real scanner: each fails on the
 * dump that lacks what it expects and passes on the one that has it; with nothing to compare, one skip says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { contentChecks } from '../../src/inventory/expectations.js';
import { scan } from '../scan/scan-helpers.js';

const DUMP = `SET client_encoding = 'UTF8';

--
-- Name: orders; Type: TABLE; Schema: public; Owner: app_owner
--

CREATE TABLE public.orders (id integer);

ALTER TABLE public.orders OWNER TO app_owner;

--
-- Name: TABLE orders; Type: ACL; Schema: public; Owner: app_owner
--

GRANT SELECT ON TABLE public.orders TO reporter;
GRANT INSERT ON TABLE public.orders TO writer;
`;

const inventory = () => scan(DUMP).inventory;
const expecting = (expect: unknown) => validateConfig({ expect }).expect;

test('content.expectations: skipped when no expectation is configured and there is no source catalog', () => {
  const [c, ...rest] = contentChecks(inventory(), undefined, null);
  assert.deepEqual(rest, []);
  assert.equal(c?.name, 'content.expectations');
  assert.equal(c?.status, 'skip');
});

test('content.role[…]: fails for a role no OWNER or GRANT references, passes for one that is', () => {
  const checks = contentChecks(inventory(), expecting({ roles: ['app_owner', 'auditor'] }), null);
  assert.deepEqual(checks.map((c) => [c.name, c.status]), [['content.role[app_owner]', 'pass'], ['content.role[auditor]', 'fail']]);
  assert.match(checks[1]!.detail, /role auditor is not referenced/);
});

test('content.objects[…]: fails when nothing matches or the count differs, passes on an exact match', () => {
  const checks = contentChecks(inventory(), expecting({ objects: [
    { type: 'table', schema: 'public', name: 'orders', count: 1 }, { type: 'table', name: 'invoices' }, { type: 'table', name: '*', count: 2 },
  ] }), null);
  assert.deepEqual(checks.map((c) => [c.name, c.status]), [
    ['content.objects[table public.orders]', 'pass'], ['content.objects[table invoices]', 'fail'], ['content.objects[table *]', 'fail'],
  ]);
});

test('content.grants[…]: a write privilege fails no_write (the grant named); a read-only role passes', () => {
  const checks = contentChecks(inventory(), expecting({ grants: [{ role: 'reporter', no_write: true, on: ['public.orders'] }, { role: 'writer', no_write: true }] }), null);
  assert.deepEqual(checks.map((c) => [c.name, c.status]), [['content.grants[reporter]', 'pass'], ['content.grants[writer]', 'fail']]);
  assert.match(checks[1]!.detail, /writer holds write privilege\(s\): INSERT on public\.orders/);
});
