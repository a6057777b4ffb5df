/** The jail's pure parts: config `sandbox.allow`, naming a refusal by its dump entry, the check, the report section and its rendering. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { hostileContentCheck } from '../../src/pipeline/scan/dump-checks.js';
import { jailReport, locateRefused, scanOptionsOf } from '../../src/pipeline/report/jail-report.js';
import { emptyReport } from '../../src/pipeline/report/empty-report.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { ReportSchema } from '../../src/report/model.js';
import type { Jail } from '../../src/sandbox/jail.js';
import { PlainDumpScanner } from '../../src/scan/plain-dump-scanner.js';
import type { PlainScanResult } from '../../src/scan/types.js';

const DUMP = `--
-- Name: t; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.t (id integer);

--
-- Name: f(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'COPY t TO PROGRAM ''id'''; END $$;

COPY (SELECT 1) TO '/tmp/x';
ALTER SYSTEM SET work_mem = '1GB';
CREATE FUNCTION public.c() RETURNS int AS '$libdir/x', 'y' LANGUAGE c;
\\! id
`;

function scan(text: string, allow?: { functions?: string[]; metaCommands?: string[] }): PlainScanResult {
  const s = new PlainDumpScanner({ allow });
  s.push(Buffer.from(text));
  return s.finish();
}

const JAIL: Jail = { osUser: { name: 'pgdrill-sandbox', uid: 999, gid: 999 }, networkNamespace: true, mode: 'root', mountNamespace: false, note: null, mountNote: null, unshare: '/usr/bin/unshare', bwrap: null };

test('config sandbox.allow: defaults to nothing allowed, takes named functions and meta-commands, rejects unknown keys', () => {
  const empty = validateConfig({});
  assert.deepEqual(scanOptionsOf(empty), { allow: { functions: [], metaCommands: [] } });
  const c = validateConfig({ sandbox: { allow: { functions: ['public.my_digest'], meta_commands: ['set'] } } });
  assert.deepEqual(scanOptionsOf(c), { allow: { functions: ['public.my_digest'], metaCommands: ['set'] } });
  const partial = validateConfig({ sandbox: { os_user: 'someone' } });
  assert.deepEqual(scanOptionsOf(partial), { allow: { functions: [], metaCommands: [] } });
  assert.throws(() => validateConfig({ sandbox: { allow: { programs: ['x'] } } }), ConfigError);
});

test('every kind of finding fails content.hostile_content and is named by line and dump entry', () => {
  const s = scan(DUMP);
  const refused = locateRefused(s);
  const kinds = refused.map((r) => r.kind);
  for (const k of ['copy-program', 'server-file', 'alter-system', 'untrusted-function', 'meta-command']) assert.ok(kinds.includes(k as never), `${k} in ${kinds.join(',')}`);
  assert.equal(refused.find((r) => r.kind === 'copy-program')!.object, 'FUNCTION public.f()');
  assert.equal(refused.find((r) => r.kind === 'copy-program')!.line, 11);
  const c = hostileContentCheck(s);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /first at line 11 \(in FUNCTION public\.f\(\)\): copy-program/);
  assert.match(hostileContentCheck(s, true).detail, /line 11 of the pg_restore script/);
  // Each kind alone fails the check.
  for (const line of DUMP.split('\n').slice(10)) {
    if (!line.trim()) continue;
    assert.equal(hostileContentCheck(scan(`${line}\n`)).status, 'fail', line);
  }
  assert.equal(hostileContentCheck(scan('CREATE TABLE t (id int);\n')).status, 'pass');
});

test('a finding before the first entry header has no object', () => {
  const r = locateRefused(scan("COPY (SELECT 1) TO PROGRAM 'id';\n"));
  assert.equal(r[0]!.object, null);
});

test('allowed exceptions are not refused and are listed in the jail section', () => {
  const opts = { allow: { functions: ['public.c'], metaCommands: [] } };
  const s = scan("CREATE FUNCTION public.c() RETURNS int AS '$libdir/x', 'y' LANGUAGE c;\n", opts.allow);
  assert.equal(hostileContentCheck(s).status, 'pass');
  const j = jailReport(JAIL, undefined, s, opts);
  assert.deepEqual(j.allowed, { functions: ['public.c'], meta_commands: [] });
  assert.equal(j.os_user_source, 'dedicated');
  assert.equal(jailReport(JAIL, 'postgres', s, opts).os_user_source, 'config');
  assert.equal(jailReport({ ...JAIL, osUser: null, mode: 'userns' }, undefined, null, opts).os_user_source, 'caller');
});

test('report.md renders the jail in §4: user, namespace, refusals with their entries', () => {
  const r = emptyReport('run', '/tmp/drills/x-20261127T000000Z', new Date('2026-11-27T00:00:00Z'), [], (s) => s, {});
  r.jail = jailReport({ ...JAIL, networkNamespace: false, mode: 'none', note: 'no network namespace: unshare --net failed' }, undefined, scan(DUMP), {});
  ReportSchema.parse(r);
  const md = renderMarkdown(r);
  const jail = md.slice(md.indexOf('### Jail'));
  assert.ok(md.indexOf('## §4') < md.indexOf('### Jail') && md.indexOf('### Jail') < md.indexOf('## §5'));
  assert.match(jail, /sandbox_os_user: pgdrill-sandbox \(pgdrill's dedicated user\)/);
  assert.match(jail, /network_namespace: NO — no network namespace: unshare --net failed/);
  assert.match(jail, /\| 11 \| copy-program \| FUNCTION public\.f\(\) \|/);
});

test('where unshare is missing or fails, the jail says so instead of failing silently', async () => {
  const { probeJail } = await import('../../src/sandbox/jail.js');
  const user = process.getuid?.() === 0 ? { name: 'nobody', uid: 65534, gid: 65534 } : null;
  const missing = await probeJail(user, { unshare: ['/nonexistent/unshare'], bwrap: [] });
  assert.equal(missing.networkNamespace, false);
  assert.match(missing.note ?? '', /unshare \(util-linux\) was not found/);
  const failing = await probeJail(user, { unshare: ['/bin/false'], bwrap: ['/bin/false'] });
  assert.equal(failing.networkNamespace, false);
  assert.equal(failing.mode, 'none');
  assert.match(failing.note ?? '', /^no network namespace: (unshare --net failed|not root, and unprivileged user namespaces are unavailable)/);
  assert.equal(failing.mountNamespace, false);
  assert.match(failing.mountNote ?? '', /^no mount namespace: bwrap failed/);
  assert.match(missing.mountNote ?? '', /^no mount namespace: bubblewrap \(bwrap\) is not installed/);
});
