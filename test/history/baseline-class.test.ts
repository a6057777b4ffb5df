/**
 * The baseline compares only drills of the same class (src/history/drill-class.ts): a point-in-time drill holds
 * fewer rows than the drill to `latest` by design and must not FAIL "lost rows" against it, while a real loss between
 * two drills of the same class still FAILs. Pure parts and `baselineFor` on an out directory of report.json files.
 */
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.js';
import { baselineFor, compareWithBaseline } from '../../src/history/baseline.js';
import { drillClass } from '../../src/history/drill-class.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import type { PhysicalReport, Report } from '../../src/report/model.js';
import { passReport } from '../helpers/sample-report.js';

const th = ConfigSchema.parse({}).thresholds;

/** A physical drill of the sample report: its target, and `rentals` rows in public.rental. */
function physical(o: { startedAt: string; target: string; rentals: number; path?: string; runDir?: string }): Report {
  const r = passReport({ startedAt: o.startedAt, runDir: o.runDir });
  const p: PhysicalReport = {
    layout: 'plain', manifest: true, wal_dir: '/archive', start_lsn: '0/2000028', start_timeline: 1, backup_end_lsn: '0/2000100',
    target: o.target, target_timeline: 'latest',
    reached: { lsn: '0/3000000', last_commit_time: null, stop_line: null, consistent_at: '0/2000100', redo_done_at: null, new_timeline: 2, fatal: null },
    wal: { staged_segments: 2, history_files: 0, restored_segments: 2, replayed_bytes: null, replay_ms: null, replay_bytes_per_s: null },
    isolation: { system_identifier: null, settings: {}, overridden: [], preload_dropped: [], tcp_sockets: 0 },
    data_checksums: true, databases: [], timings: { copy_ms: null, recovery_ms: null, checks_ms: null, rto_ms: null },
  };
  return {
    ...r, kind: 'verify', physical: p,
    backup: { ...r.backup, path: o.path ?? '/backups/base', format: 'basebackup-plain' },
    tables: r.tables.map((t) => (t.name === 'rental' ? { ...t, restored_rows: o.rentals } : t)),
  };
}
const rows = (r: Report) => r.checks.find((c) => c.name === 'baseline.table_rows');

describe('baseline: only drills of the same class are compared', () => {
  const latest = physical({ startedAt: '2026-12-01T03:00:00.000Z', target: 'latest (every archived segment)', rentals: 16_044 });
  const xid = physical({ startedAt: '2026-12-02T03:00:00.000Z', target: 'xid:1234', rentals: 10 });

  it('classes: logical, physical per tool and target, timeline when not latest', () => {
    assert.equal(drillClass(passReport()), 'logical dump');
    assert.equal(drillClass(latest), 'physical pg_basebackup, target latest (every archived segment)');
    assert.equal(drillClass(physical({ startedAt: latest.run.started_at, target: 'xid:1', rentals: 1, path: 'pgbackrest:main@20261201-030000F' })), 'physical pgBackRest backup, target xid:1');
    const tl = { ...xid, physical: { ...xid.physical!, target_timeline: '2' } };
    assert.equal(drillClass(tl), 'physical pg_basebackup, target xid:1234, timeline 2');
  });

  it('FAIL: a real loss between two drills to latest', () => {
    const lossy = physical({ startedAt: '2026-12-02T03:00:00.000Z', target: 'latest (every archived segment)', rentals: 10 });
    const c = compareWithBaseline(lossy, latest, th);
    assert.equal(c.checks.find((k) => k.name === 'baseline.table_rows')?.status, 'fail');
    assert.equal(c.baseline?.basis, 'physical pg_basebackup, target latest (every archived segment)');
    assert.match(renderMarkdown({ ...lossy, baseline: c.baseline, checks: c.checks }), /compared_as: physical pg_basebackup, target latest/);
  });

  it('not compared: an xid drill against a PASS at latest (given directly, as a library user could), the reason named', () => {
    const c = compareWithBaseline(xid, latest, th);
    assert.equal(c.baseline, null);
    assert.equal(c.checks.length, 1);
    assert.equal(c.checks[0]!.status, 'skip');
    assert.match(c.checks[0]!.detail, /comparable with this drill \(physical pg_basebackup, target xid:1234\): the newest PASS \S+ was physical pg_basebackup, target latest/);
  });

  it('not compared: a physical drill against a logical one of the same name; logical formats still compare rows', () => {
    assert.equal(compareWithBaseline(latest, passReport({ startedAt: '2026-11-30T03:00:00.000Z' }), th).baseline, null);
    const plain = passReport({ startedAt: '2026-12-02T03:00:00.000Z' });
    const c = compareWithBaseline({ ...plain, backup: { ...plain.backup, format: 'plain' } }, passReport({ startedAt: '2026-12-01T03:00:00.000Z' }), th);
    assert.equal(c.baseline?.basis, 'logical dump');
    assert.equal(rows({ ...plain, checks: c.checks })?.status, 'pass');
  });

  describe('baselineFor in an out directory', () => {
    let out = '';
    after(async () => { if (out) await rm(out, { recursive: true, force: true }); });
    async function put(r: Report): Promise<void> {
      await mkdir(r.run.dir, { recursive: true });
      await writeFile(join(r.run.dir, 'report.json'), JSON.stringify(r));
    }

    it('an xid drill passes over the newer PASS at latest to an earlier one to the same xid; with none, skipped with the reason', async () => {
      out = await mkdtemp(join(tmpdir(), 'pgdrill-baseline-class-'));
      const dir = (stamp: string) => join(out, `base-${stamp}`);
      const xid1 = physical({ startedAt: '2026-12-01T03:00:00.000Z', target: 'xid:1234', rentals: 10, runDir: dir('20261201T030000Z') });
      const latest2 = physical({ startedAt: '2026-12-02T03:00:00.000Z', target: 'latest (every archived segment)', rentals: 16_044, runDir: dir('20261202T030000Z') });
      const xid3 = physical({ startedAt: '2026-12-03T03:00:00.000Z', target: 'xid:1234', rentals: 10, runDir: dir('20261203T030000Z') });
      await put(latest2);
      const alone = await baselineFor(xid3, th);
      assert.equal(alone.baseline, null);
      assert.match(alone.checks[0]!.detail, new RegExp(`the newest PASS ${latest2.run.id} was physical pg_basebackup, target latest`));
      await put(xid1);
      const found = await baselineFor(xid3, th);
      assert.equal(found.baseline?.run_id, xid1.run.id);
      assert.equal(found.checks.find((c) => c.name === 'baseline.table_rows')?.status, 'pass');
      const latest4 = physical({ startedAt: '2026-12-04T03:00:00.000Z', target: 'latest (every archived segment)', rentals: 16_044, runDir: dir('20261204T030000Z') });
      assert.equal((await baselineFor(latest4, th)).baseline?.run_id, latest2.run.id);
    });
  });
});
