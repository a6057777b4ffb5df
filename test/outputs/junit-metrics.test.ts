import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { runCli } from '../helpers/cli.js';
import { scratchDir, urlOf } from '../helpers/clusters.js';
import { shopWithCutDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { xmlEscape } from '../../src/outputs/junit.js';

/** What these tests read of a JUnit file (attributes are strings as parsed; testcase and property are arrays). */
interface JunitCase { readonly name: string; readonly classname: string; readonly failure?: { readonly message: string } }
interface JunitSuite {
  readonly name: string; readonly tests: string; readonly failures: string; readonly skipped: string;
  readonly testcase: JunitCase[]; readonly properties: { readonly property: { readonly name: string; readonly value: string }[] };
}

/** Parse and validate JUnit XML independently of the writer: well-formed, then the testsuite's cases. */
function parseJunit(xml: string) {
  assert.equal(XMLValidator.validate(xml), true, 'well-formed XML');
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testcase', 'property'].includes(name) })
    .parse(xml) as { testsuites: { testsuite: JunitSuite } };
  const suite = doc.testsuites.testsuite;
  return { doc, suite, cases: suite.testcase };
}

/**
 * An independent reader of the Prometheus text format (exposition format 0.0.4), strict about what pgdrill
 * writes: every sample's family has HELP and TYPE before it, no sample twice, values are numbers.
 */
function parseProm(text: string): Map<string, number> {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const help = new Set<string>();
  const type = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n').filter(Boolean)) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) {
      help.add(m[1]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|untyped)$/.exec(line);
    if (m) {
      type.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{database="((?:[^"\\\n]|\\[\\"n])*)"\} (-?[0-9.e+]+)$/.exec(line);
    assert.ok(m, `not a valid sample line: ${line}`);
    assert.ok(help.has(m[1]!) && type.get(m[1]!) === 'gauge', `${m[1]} has HELP and TYPE gauge before its samples`);
    const key = `${m[1]}{${m[2]}}`;
    assert.ok(!samples.has(key), `duplicate series ${key}`);
    samples.set(key, Number(m[3]));
  }
  return samples;
}

describe('--junit and --metrics', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let dump: string;
  let cut: string;
  before(async () => {
    ({ dir, source, dump, cut } = await shopWithCutDump('CREATE TABLE item (id int PRIMARY KEY, name text); INSERT INTO item SELECT g, md5(g::text) FROM generate_series(1, 500) g;', (text) => text.indexOf('\n', text.indexOf('COPY public.item')) + 200));
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('xmlEscape keeps hostile text well-formed', () => {
    const nasty = `<script>&"'\u0001\u001b]0;x\u0007 \uD800 ok`;
    const xml = `<?xml version="1.0"?><a b="${xmlEscape(nasty)}">${xmlEscape(nasty)}</a>`;
    assert.equal(XMLValidator.validate(xml), true);
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', processEntities: true, htmlEntities: true })
      .parse(xml) as { a: { '#text': string } };
    assert.match(parsed.a['#text'], /^<script>&"'\uFFFD\uFFFD\]0;x\uFFFD \uFFFD ok$/);
  });

  test('verify: JUnit has one test case per check; metrics merge with other databases and survive a FAIL', async () => {
    const junit = join(dir.path, 'junit-pass.xml');
    const prom = join(dir.path, 'prom', 'pgdrill.prom');
    await mkdir(join(dir.path, 'prom'));
    // Another job's database already in the file: it must be kept.
    await writeFile(prom, '# HELP pgdrill_last_run_success Verdict.\n# TYPE pgdrill_last_run_success gauge\npgdrill_last_run_success{database="billing"} 1\n# HELP pgdrill_last_success_timestamp_seconds x\n# TYPE pgdrill_last_success_timestamp_seconds gauge\npgdrill_last_success_timestamp_seconds{database="billing"} 1700000000\n');
    const out = join(dir.path, 'out');
    const r = await runCli(['verify', dump, '--out', out, '--json', '--junit', junit, '--metrics', prom]);
    assert.equal(r.code, 0, r.stderr);
    const report: Report = ReportSchema.parse(JSON.parse(r.stdout));

    const { suite, cases } = parseJunit(await readFile(junit, 'utf8'));
    assert.equal(suite.name, 'pgdrill verify shop');
    assert.equal(Number(suite.tests), report.checks.length);
    assert.equal(cases.length, report.checks.length);
    assert.equal(Number(suite.failures), 0);
    assert.equal(Number(suite.skipped), report.checks.filter((c) => c.status === 'skip').length);
    assert.deepEqual(cases.map((c) => c.name), report.checks.map((c) => c.name));
    assert.ok(cases.every((c) => /^pgdrill\.verify\.\w+$/.test(c.classname)));
    assert.equal(cases.filter((c) => c.failure).length, 0);

    let m = parseProm(await readFile(prom, 'utf8'));
    const finished = Date.parse(report.run.finished_at) / 1000;
    assert.equal(m.get('pgdrill_last_run_success{shop}'), 1);
    assert.equal(m.get('pgdrill_last_run_timestamp_seconds{shop}'), Number(finished.toFixed(3)));
    assert.equal(m.get('pgdrill_last_success_timestamp_seconds{shop}'), Number(finished.toFixed(3)));
    assert.equal(m.get('pgdrill_last_run_dump_size_bytes{shop}'), report.backup.size_bytes);
    assert.equal(m.get('pgdrill_last_run_duration_seconds{shop}'), Number((report.run.duration_ms / 1000).toFixed(3)));
    assert.equal(m.get('pgdrill_last_run_failed_checks{shop}'), 0);
    assert.equal(m.get('pgdrill_last_run_success{billing}'), 1, 'other databases kept');
    assert.equal(m.get('pgdrill_last_success_timestamp_seconds{billing}'), 1700000000);

    // The next drill of shop fails: success 0, last success unchanged; JUnit carries the failures with their messages.
    const junitFail = join(dir.path, 'junit-fail.xml');
    const f = await runCli(['verify', cut, '--out', out, '--json', '--junit', junitFail, '--metrics', prom]);
    assert.equal(f.code, 1, f.stderr);
    const failed: Report = ReportSchema.parse(JSON.parse(f.stdout));
    const fj = parseJunit(await readFile(junitFail, 'utf8'));
    const failures = fj.cases.filter((c) => c.failure);
    assert.equal(Number(fj.suite.failures), failed.checks.filter((c) => c.status === 'fail').length);
    assert.ok(failures.length >= 1);
    const trailer = fj.cases.find((c) => c.name === 'backup.trailer')!;
    assert.match(trailer.failure?.message ?? '', /truncated: no "-- PostgreSQL database dump complete" trailer/);
    assert.equal(fj.suite.properties.property.find((p) => p.name === 'status')?.value, 'FAIL');

    m = parseProm(await readFile(prom, 'utf8'));
    assert.equal(m.get('pgdrill_last_run_success{shop}'), 0);
    assert.equal(m.get('pgdrill_last_success_timestamp_seconds{shop}'), Number(finished.toFixed(3)), 'last success kept through a failure');
    assert.ok(m.get('pgdrill_last_run_failed_checks{shop}')! >= 1);
    assert.equal(m.get('pgdrill_last_run_success{billing}'), 1);
    // Written atomically: no temporary or lock file left beside it.
    assert.deepEqual(await readdir(join(dir.path, 'prom')), ['pgdrill.prom']);
  });

  test('run writes them too; an output path in a missing directory is a usage error before anything runs', async () => {
    const junit = join(dir.path, 'run-junit.xml');
    const prom = join(dir.path, 'run.prom');
    const r = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', join(dir.path, 'out-run'), '--junit', junit, '--metrics', prom]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const { suite, cases } = parseJunit(await readFile(junit, 'utf8'));
    assert.equal(suite.name, 'pgdrill run shop');
    assert.ok(cases.some((c) => c.name === 'production.audit_read_only'));
    assert.equal(parseProm(await readFile(prom, 'utf8')).get('pgdrill_last_run_success{shop}'), 1);

    const bad = await runCli(['verify', dump, '--out', join(dir.path, 'out-bad'), '--junit', join(dir.path, 'no', 'such', 'dir', 'j.xml')]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--junit .*directory .* does not exist/);
    assert.deepEqual(await readdir(join(dir.path, 'out-bad')).catch(() => []), []);
  });
});
