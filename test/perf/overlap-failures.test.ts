/**
 * Failures under overlap (backup.overlap, default on for plain dumps): a pg_dump that dies mid-stream and a hostile
 * line injected into pg_dump's output both FAIL exactly as the non-overlapped drill fails (same failing checks),
 * with the early sandbox torn down, no partial file, and the hostile command never run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeBindir } from '../helpers/fake-bindir.js';
import { processesMentioning } from '../helpers/leftovers.js';
import type { Report } from '../../src/report/model.js';
import { useOverlapDrills } from './overlap-helpers.js';

const exists = (p: string) => stat(p).then(() => true, () => false);
const failing = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => c.name).sort();

describe('overlapped drills that fail', () => {
  const drills = useOverlapDrills();
  const { drill } = drills;

  test('pg_dump killed mid-stream: FAIL as without overlap, early sandbox torn down, no partial file', async () => {
    // The real pg_dump's first 300 kB, then the "pg_dump" process dies by SIGKILL.
    await using bin = await fakeBindir('"$REAL" "$@" | head -c 300000\nkill -KILL $$');
    const env = { PG_BINDIR: bin.path };
    const o = await drill('out-killed', [], env);
    const s = await drill('out-killed-seq', ['--config', drills.noOverlap], env);
    for (const { code, report, out, runDir } of [o, s]) {
      assert.equal(code, 1);
      assert.equal(report.status, 'FAIL');
      assert.match(report.checks.find((c) => c.name === 'backup.error')?.detail ?? '', /pg_dump was killed by SIGKILL/);
      assert.equal(report.checks.find((c) => c.name === 'restore.skipped')?.status, 'skip');
      assert.deepEqual((await readdir(runDir)).filter((f) => /\.sql|partial|^sandbox-/.test(f)), [], 'no dump, no partial file, no sandbox');
      assert.deepEqual(await processesMentioning(out), []);
    }
    assert.deepEqual(failing(o.report), failing(s.report));
    // The overlapped drill had started a sandbox: it says it tore it down.
    assert.equal(o.report.checks.find((c) => c.name === 'teardown.confirmed')?.status, 'pass');
    assert.equal(o.report.teardown.confirmed, true);
    assert.ok(o.report.notes.some((n) => n.id === 'overlap-discarded'));
    // backup.overlap: false started no sandbox during the dump: nothing to tear down, as before overlap existed.
    assert.equal(s.report.checks.find((c) => c.name === 'teardown.confirmed'), undefined);
    assert.ok(!s.report.notes.some((n) => n.id === 'overlap' || n.id === 'overlap-discarded'));
  });

  test('a hostile line injected into pg_dump\'s output mid-stream: never run, FAIL as without overlap', async () => {
    const markers = await mkdtemp(join(tmpdir(), 'pgdrill-overlap-markers-'));
    await chmod(markers, 0o777); // psql runs as the sandbox's OS user
    try {
      // A psql shell escape after the first COPY block that ends past 1.5 MB (mid-stream, in SQL context; beyond
      // the first 1 MiB read behind pg_dump, so that psql is restoring the lines before it).
      const inject = (m: string) => `"$REAL" "$@" | awk '{ print; n += length($0) + 1 } !done && n > 1500000 && $0 == "\\\\." { print "\\\\! touch ${m}"; done = 1 }'`;
      await using binO = await fakeBindir(inject(join(markers, 'overlap')));
      await using binS = await fakeBindir(inject(join(markers, 'sequential')));
      const o = await drill('out-hostile', [], { PG_BINDIR: binO.path });
      const s = await drill('out-hostile-seq', ['--config', drills.noOverlap], { PG_BINDIR: binS.path });
      for (const { code, report, out } of [o, s]) {
        assert.equal(code, 1);
        const hostile = report.checks.find((c) => c.name === 'content.hostile_content')!;
        assert.equal(hostile.status, 'fail');
        assert.match(hostile.detail, /touch/);
        assert.equal(report.checks.find((c) => c.name === 'restore.skipped')?.status, 'skip');
        assert.deepEqual(await processesMentioning(out), []);
      }
      assert.deepEqual(failing(o.report), failing(s.report));
      assert.equal(await exists(join(markers, 'overlap')), false, 'the overlapped restore never ran the command');
      assert.equal(await exists(join(markers, 'sequential')), false);
      assert.equal(o.report.teardown.confirmed, true);
      assert.equal(o.report.checks.find((c) => c.name === 'teardown.confirmed')?.status, 'pass');
      assert.ok(!(await readdir(o.runDir)).some((f) => f.startsWith('sandbox-')));
      // psql was restoring the lines before it when the scanner found the hostile one and the gate stopped it.
      const note = o.report.notes.find((n) => n.id === 'overlap-discarded')?.text ?? '';
      const fed = Number(/psql had read (\d+) scanned and approved bytes and was stopped \(hostile\)/.exec(note)?.[1]);
      assert.ok(fed > 0, note);
    } finally {
      await rm(markers, { recursive: true, force: true });
    }
  });
});
