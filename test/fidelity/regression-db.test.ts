/**
 * PostgreSQL's own regression database (scripts/regression-db: 600+ tables, hundreds of functions, every odd object
 * the server's tests create) drilled with `run --deep`, and held to an independent pg_upgrade-style comparison
 * (pg-upgrade-compare.ts): every pgdrill finding must be a true difference, and every true difference reported.
 * Under CI=true the corpus must be there (scripts/setup --with-regression-db builds it): the test never skips.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseUrl } from 'pg-connection-string';
import { runProcess } from '../../src/exec/run-process.js';
import { removeTree } from '../../src/exec/remove-tree.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir, startSource } from '../helpers/clusters.js';
import { regressionEntry, startRegressionSource, type RegressionEntry, type RegressionSource } from '../helpers/regression-db.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { compareCopy, findingKey, objectKey, pgUpgradeStyleCompare, type Differences, type PgEnv, type PgUpgradeComparison } from './pg-upgrade-compare.js';

/** C and internal functions created outside an extension (not aggregates, not a range type's constructors): what the allow-list must name. */
const C_FUNCTIONS_SQL = `
SELECT DISTINCT n.nspname || '.' || p.proname AS name
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE l.lanname IN ('c', 'internal') AND p.prokind <> 'a' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
 ORDER BY 1`;

const ROUND_TRIP_SECTION = /^Name: (.*?); Type: ([A-Z ]+); Schema: ([^;]*)(?:; Owner: .*)?$/;

/**
 * The objects pgdrill's report says differ, as object keys (pg-upgrade-compare.ts's vocabulary), each with the
 * check that said so. A failed check that names no object is a finding of its own (`check NAME: detail`).
 */
function reportedFindings(report: Report): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (key: string, why: string) => found.set(key, [...(found.get(key) ?? []), why]);
  const objects = (v: unknown, into: string[]): void => {
    if (typeof v === 'string') {
      const section = ROUND_TRIP_SECTION.exec(v);
      if (section) into.push(objectKey(section[2]!, section[3]!, section[1]!)); // groups always take part
      else if (findingKey(v) !== v) into.push(findingKey(v));
    } else if (Array.isArray(v)) for (const x of v) objects(x, into);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) objects(x, into);
  };
  for (const c of report.checks) {
    if (c.status !== 'fail' && !(c.status === 'warn' && c.name.startsWith('fidelity.'))) continue;
    const keys: string[] = [];
    if (c.name === 'fidelity.catalog') for (const d of report.fidelity?.differences ?? []) keys.push(findingKey(d.object));
    else if (c.name === 'fidelity.round_trip') objects(report.fidelity?.round_trip, keys);
    else if (c.name === 'fidelity.content_hashes') {
      for (const t of report.tables) {
        const differs = (t.source_hash !== undefined && t.restored_hash !== t.source_hash) || (t.dump_hash !== undefined && t.restored_copy_hash !== t.dump_hash);
        if (differs) keys.push(`table ${t.schema}.${t.name}`);
      }
    } else if (c.name.startsWith('fidelity.')) objects(c.evidence, keys);
    else if (c.name === 'restore.errors') keys.push('restore error');
    else if (c.name === 'restore.objects') for (const o of report.restore?.missing_objects ?? []) keys.push(findingKey(o.replace(/^([a-z_]+):/, (_, k: string) => `${k.replace(/_/g, ' ')} `)));
    if (keys.length === 0) add(`check ${c.name}: ${c.detail}`, c.name);
    for (const k of new Set(keys)) add(k, c.name);
  }
  return found;
}

/** The sandbox a `--keep` drill left running (report.restore.connect): how to reach it, and how to stop and remove it. */
function keptSandbox(report: Report): { env: PgEnv; database: string; stop(): Promise<void> } {
  const m = /^psql "([^"]+)" +\(stop it with: (.*pg_ctl -D (\S+) stop); then rm -rf (\S+)\)$/.exec(report.restore?.connect ?? '');
  assert.ok(m, `no kept sandbox: ${report.restore?.connect ?? '(no connect string)'}`);
  const url = parseUrl(m[1]!);
  return {
    env: { PGHOST: url.host!, PGPORT: url.port ?? '5432', PGUSER: url.user! },
    database: url.database!,
    async stop() {
      await runProcess({ bin: '/bin/sh', args: ['-c', `${m[2]!} -m immediate`], allowFailure: true });
      await removeTree(m[4]!);
    },
  };
}

test('object keys: pg_dump entry headers and the objects pgdrill names meet in one vocabulary', () => {
  assert.equal(objectKey('TABLE DATA', 'public', 'b_star'), 'table public.b_star');
  assert.equal(objectKey('DEFAULT', 'public', 'b_star aa'), 'table public.b_star');
  assert.equal(findingKey('column public.b_star.aa'), 'table public.b_star');
  assert.equal(objectKey('FK CONSTRAINT', 'fkpart4', 'dropfk dropfk_a_fkey4'), findingKey('constraint fkpart4.dropfk.dropfk_a_fkey4'));
  assert.equal(objectKey('FUNCTION', 'public', 'newcnt(integer)'), findingKey('function public.newcnt(integer)'));
  assert.equal(objectKey('AGGREGATE', 'public', 'newcnt(*)'), findingKey('aggregate public.newcnt()'));
  assert.equal(objectKey('ACL', 'public', 'TABLE actor'), 'table public.actor');
  assert.equal(objectKey('MATERIALIZED VIEW DATA', 'public', 'mv'), findingKey('materialized view public.mv'));
  assert.equal(findingKey('sequence public.s'), objectKey('SEQUENCE SET', 'public', 's'));
  assert.equal(findingKey('constraint fkpart4.dropfk.dropfk_a_fkey'), objectKey('FK CONSTRAINT', 'fkpart4', 'dropfk dropfk_a_fkey'));
});

describe('PostgreSQL regression database: pgdrill findings = a pg_upgrade-style comparison', () => {
  let missing: string | null = null;
  let entry: RegressionEntry | undefined;
  let scratch: Awaited<ReturnType<typeof scratchDir>> | undefined;
  let source: RegressionSource | undefined;
  let truth: PgUpgradeComparison;
  let config: string;
  before(async () => {
    const e = await regressionEntry();
    if ('missing' in e) {
      if (process.env.CI) throw new Error(`the regression database is missing under CI (scripts/setup --with-regression-db builds it): ${e.missing}`);
      missing = e.missing;
      return;
    }
    entry = e.entry;
    scratch = await scratchDir();
    source = await startRegressionSource(e.entry);
    const copy = await startSource({ parentDir: scratch.path, label: 'test-regression-copy' });
    try {
      truth = await pgUpgradeStyleCompare({ source: source.env(), copy: copy.env('postgres'), database: 'regression', workDir: scratch.path });
    } finally {
      await copy.stop();
    }
    const c = new pg.Client({ host: source.socketDir, port: source.port, user: source.superuser, database: 'regression' });
    await c.connect();
    const fns = (await c.query<{ name: string }>(C_FUNCTIONS_SQL)).rows.map((r) => r.name);
    await c.end();
    config = join(scratch.path, 'pgdrill.yaml');
    await writeFile(config, `sandbox:\n  allow:\n    functions: ${JSON.stringify(fns)}\n`);
  });
  after(async () => {
    await source?.[Symbol.asyncDispose]();
    await scratch?.[Symbol.asyncDispose]();
  });

  test('the independent comparison sees the known pg_dump limitations, and nothing fails to restore', (t) => {
    if (missing) return t.skip(missing);
    const keys = [...truth.differences.keys()];
    t.diagnostic(`true differences (${keys.length}): ${keys.join('; ')}`);
    assert.deepEqual(truth.restoreErrors, []);
    assert.ok(truth.dumpEntries > 2000 && truth.catalogFacts > 3000, `${truth.dumpEntries} dump entries, ${truth.catalogFacts} catalog facts`);
    // Foreign keys renamed on partitions (their names are not in the dump: the partition inherits the parent's key).
    assert.ok(truth.differences.has('constraint public.fk_partitioned_fk_4.fk_partitioned_fk_4_a_b_fkey'), keys.join('; '));
    // Column order changed by inheritance (b_star … f_star) and by ALTER TABLE (gtestxx_4, test_type_diff2_c1).
    for (const table of ['b_star', 'f_star', 'gtestxx_4', 'test_type_diff2_c1']) assert.ok(truth.differences.has(`table public.${table}`), table);
  });

  test('verify of the cached dumps (plain, custom) with their globals: PASS, nothing failed', async (t) => {
    if (missing) return t.skip(missing);
    for (const artefact of [entry!.plainDump, entry!.archive]) {
      const r = await runCli(['verify', artefact, '--globals', entry!.globals, '--config', config, '--out', join(scratch!.path, 'verify'), '--json']);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const failedChecks = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
      assert.deepEqual(failedChecks, [], artefact);
      assert.equal(report.status, 'PASS', artefact);
      assert.equal(r.code, 0, artefact);
      assert.ok(report.tables.length > 500, `${report.tables.length} tables restored from ${artefact}`);
    }
  });

  for (const format of ['plain', 'custom'] as const) {
    test(`run --deep (${format}): every finding is a true difference, and every true difference is reported`, async (t) => {
      if (missing) return t.skip(missing);
      const r = await runCli(['run', '--source', source!.url(), '--deep', '--keep', '--format', format, '--config', config, '--out', join(scratch!.path, `out-${format}`), '--json']);
      assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr.slice(-3000)}`);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const kept = keptSandbox(report);
      let truthHere: Differences;
      try {
        // pgdrill's own copy, kept, compared with the source the same way: a restore is not deterministic (pg_restore
        // -j attaches partition indexes in parallel), so a true difference may exist in its copy and not in ours.
        const own = await compareCopy({ source: source!.env(), sourceDump: truth.sourceDump, database: 'regression', copy: kept.env, copyDatabase: kept.database, copyDump: join(scratch!.path, `pgdrill-copy-${format}.sql`) });
        truthHere = new Map([...truth.differences]);
        for (const [k, v] of own.differences) truthHere.set(k, [...(truthHere.get(k) ?? []), ...v.map((x) => `in pgdrill's copy: ${x}`)]);
        const onlyOwn = [...own.differences.keys()].filter((k) => !truth.differences.has(k));
        // An object that pgdrill's restore left out of its copy is a restore error there.
        if (onlyOwn.some((k) => own.differences.get(k)!.some((x) => /copy \(absent\)|missing in the copy's dump/.test(x)))) {
          truthHere.set('restore error', ['an object of the source is absent from pgdrill\'s copy']);
        }
        if (onlyOwn.length) t.diagnostic(`true differences of pgdrill's own copy only: ${onlyOwn.map((k) => `${k}: ${own.differences.get(k)!.join(' | ')}`).join('; ')}`);
      } finally {
        await kept.stop();
      }
      const found = reportedFindings(report);
      const falseFindings = [...found].filter(([k]) => !truthHere.has(k)).map(([k, v]) => `${k} (${v.join(', ')})`);
      const missed = [...truthHere].filter(([k]) => !found.has(k)).map(([k, v]) => `${k}: ${v.join(' | ')}`);
      assert.deepEqual(
        { falseFindings, missed },
        { falseFindings: [], missed: [] },
        `pgdrill ${report.status}, report ${report.run.dir}/report.json; checks failed: ${report.checks.filter((c) => c.status === 'fail').map((c) => c.name).join(', ')}`,
      );
      assert.equal(report.fidelity?.differences_omitted ?? 0, 0, 'the report names every catalog difference');
      assert.equal(report.status, truthHere.size > 0 ? 'FAIL' : 'PASS');
      for (const name of ['restore.errors', 'restore.objects', 'fidelity.row_counts', 'fidelity.amcheck']) {
        assert.equal(report.checks.find((c) => c.name === name)?.status, 'pass', name);
      }
    });
  }
});
