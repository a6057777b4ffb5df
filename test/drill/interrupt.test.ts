import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { scratchDir, startPagila, urlOf } from '../helpers/clusters.js';
import { exists, processesMentioning } from '../helpers/leftovers.js';
import { ReportSchema } from '../../src/report/model.js';

test('SIGINT during the restore stage still tears the sandbox down (exit 130, report says interrupted)', async () => {
  await using d = await scratchDir();
  const source = await startPagila(d.path);
  try {
    const out = join(d.path, 'out');
    let sent = false;
    const r = await runCli(['run', '--source', urlOf(source, 'pagila'), '--out', out], {
      env: { PGDRILL_DEBUG: '1' },
      onStderr: (s, pid) => {
        // Once the sandbox runs and the restore has begun, press Ctrl-C.
        if (!sent && /sandbox started/.test(s)) {
          sent = true;
          setTimeout(() => process.kill(pid, 'SIGINT'), 400);
        }
      },
    });
    assert.ok(sent, 'the restore stage was reached');
    assert.equal(r.code, 130, r.stderr);
    const [runDir] = await readdir(out);
    const report = ReportSchema.parse(JSON.parse(await readFile(join(out, runDir!, 'report.json'), 'utf8')));
    assert.equal(report.interrupted, true);
    assert.equal(report.status, 'FAIL');
    assert.equal(report.teardown.confirmed, true, report.teardown.detail);
    assert.deepEqual(await processesMentioning(out), []);
    assert.ok(!(await readdir(join(out, runDir!))).some((f) => f.startsWith('sandbox-')));
    if (report.restore?.socket_dir) assert.equal(await exists(report.restore.socket_dir), false);
  } finally {
    await source.stop();
  }
});
