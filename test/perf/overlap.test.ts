/**
 * The overlapped drill (backup.overlap, default on for plain dumps) end to end: pagila restored from pg_dump's own
 * stream PASSes with every exact count equal; without captured roles the dump is restored after it (in the sandbox
 * started during the dump); `backup.overlap: false` restores after the dump as before.
 * Failures under overlap: overlap-failures.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useOverlapDrills } from './overlap-helpers.js';

describe('overlapped drills', () => {
  const drills = useOverlapDrills();
  const { fx, drill } = drills;

  test('pagila restored from the dump stream: PASS, exact counts equal, overlap reported', async () => {
    const counts = join(fx.dir, 'witness-counts.yaml');
    await writeFile(counts, 'source:\n  witness: counts\n');
    const { code, report, stderr } = await drill('out-overlap', ['--config', counts]);
    assert.equal(code, 0, stderr + JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(report.restore?.overlapped, true);
    assert.ok(report.notes.some((n) => n.id === 'overlap' && /restored from pg_dump's stream/.test(n.text)));
    assert.ok(report.tables.length >= 14);
    for (const t of report.tables) assert.equal(t.restored_rows, t.source_rows, `${t.schema}.${t.name}`);
    assert.equal(report.tables.find((t) => t.name === 'rental')?.restored_rows, 16044);
    assert.equal(report.teardown.confirmed, true);
    assert.ok(typeof report.run.peak_rss_bytes === 'number' && report.run.peak_rss_bytes > 0);
  });

  test('roles not captured (backup.globals: false): restored after the dump in the early sandbox, with placeholders', async () => {
    const cfg = join(fx.dir, 'no-globals.yaml');
    await writeFile(cfg, 'backup:\n  globals: false\nsource:\n  witness: counts\n');
    const { code, report, stderr } = await drill('out-no-globals', ['--config', cfg]);
    assert.equal(code, 0, stderr);
    assert.equal(report.restore?.overlapped, false);
    assert.match(report.notes.find((n) => n.id === 'overlap')?.text ?? '', /not overlapped with the dump: roles were not captured/);
    for (const t of report.tables) assert.equal(t.restored_rows, t.source_rows, `${t.schema}.${t.name}`);
    assert.equal(report.checks.find((c) => c.name === 'restore.roles')?.status, 'warn');
  });

  test('backup.overlap: false restores after the dump, as before', async () => {
    const { code, report } = await drill('out-sequential', ['--config', drills.noOverlap]);
    assert.equal(code, 0);
    assert.equal(report.restore?.overlapped, false);
    assert.ok(!report.notes.some((n) => n.id === 'overlap'));
  });

});
