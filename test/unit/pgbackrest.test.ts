/**
 * pgBackRest's text that pgdrill reads: `pgbackrest:STANZA[@LABEL]`, the configuration's repositories, and
 * `pgbackrest verify`'s report (captured from pgBackRest 2.45, which exits 0 in every one of these cases).
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parsePgBackRestArtifact, readPgBackRestConfig } from '../../src/physical/pgbackrest-config.js';
import { parseVerifyOutput, verifyCheck } from '../../src/physical/pgbackrest-verify.js';
import { targetOptions } from '../../src/physical/pgbackrest.js';

const FULL = '20261206-144756F';
const INCR = '20261206-144756F_20261206-144808I';
const LOG = '2026-12-06 14:48:20.000 P00   INFO:';

function verifyText(opts: { missingIn?: string; incrStatus?: string; fullStatus?: string; wal?: string }): string {
  return [
    `${LOG} verify command begin 2.45: --config=/etc/pgbackrest.conf --stanza=demo`,
    ...(opts.missingIn ? [`2026-12-06 14:48:19.871 P01   INFO: file missing '${opts.missingIn}/pg_data/base/5/1259.gz'`] : []),
    'stanza: demo',
    `status: ${opts.missingIn || opts.wal ? 'error' : 'ok'}`,
    `  archiveId: 15-1, total WAL checked: 4, total valid WAL: ${opts.wal ?? '4'}`,
    '    missing: 0, checksum invalid: 0, size invalid: 0, other: 0',
    `  backup: ${FULL}, status: ${opts.fullStatus ?? 'valid'}, total files checked: 964, total valid files: 964`,
    `  backup: ${INCR}, status: ${opts.incrStatus ?? 'valid'}, total files checked: 965, total valid files: 965`,
    `${LOG} verify command end: completed successfully (976ms)`,
  ].join('\n');
}

describe('pgbackrest: artefacts and configuration', () => {
  it('parses pgbackrest:STANZA[@LABEL] and refuses what is not one', () => {
    assert.deepEqual(parsePgBackRestArtifact('pgbackrest:main'), { stanza: 'main', label: null });
    assert.deepEqual(parsePgBackRestArtifact(`pgbackrest:db-1.prod@${INCR}`), { stanza: 'db-1.prod', label: INCR });
    for (const bad of ['pgbackrest:', 'pgbackrest:../x', 'pgbackrest:a b', 'pgbackrest:main@latest', 'pgbackrest:main@20261206F']) {
      assert.throws(() => parsePgBackRestArtifact(bad), (e: Error & { exitCode?: number }) => e.exitCode === 2, bad);
    }
  });

  it("reads a stanza's repositories from [global] and [stanza]; refuses a repository on another host or in an object store", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgdrill-pbr-unit-'));
    try {
      const f = join(dir, 'pgbackrest.conf');
      await writeFile(f, '[global]\nrepo1-path=/srv/repo1\n# comment\n[global:archive-push]\ncompress-level=3\n[other]\nrepo1-path=/elsewhere\n[main]\nrepo2-path = /srv/repo2\n');
      const c = await readPgBackRestConfig('main', f);
      assert.deepEqual(c.repos, [{ key: 1, path: '/srv/repo1' }, { key: 2, path: '/srv/repo2' }]);
      await writeFile(f, '[global]\nrepo1-host=backup.example\n');
      await assert.rejects(readPgBackRestConfig('main', f), /repository on another host is not supported yet/);
      await writeFile(f, '[main]\nrepo1-type=s3\nrepo1-path=/r\n');
      await assert.rejects(readPgBackRestConfig('main', f), /repo1-type = s3: only repositories on a file system/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("maps pgdrill's targets to pgbackrest restore options, always promoting at a target", () => {
    assert.deepEqual(targetOptions({ kind: 'latest' }), ['--type=default']);
    assert.deepEqual(targetOptions({ kind: 'immediate' }, 'latest'), ['--type=immediate', '--target-action=promote', '--target-timeline=latest']);
    assert.deepEqual(targetOptions({ kind: 'lsn', value: '0/4000100' }), ['--type=lsn', '--target=0/4000100', '--target-action=promote']);
  });
});

describe('backup.pgbackrest_verify from pgbackrest verify', () => {
  const judge = (text: string, label = INCR, references = [FULL], exitCode: number | null = 0) =>
    verifyCheck(parseVerifyOutput(text), { label, references, exitCode, stderr: '' });

  it('PASS on a clean report', () => {
    const c = judge(verifyText({}));
    assert.equal(c.name, 'backup.pgbackrest_verify');
    assert.equal(c.status, 'pass', c.detail);
  });

  it('FAIL naming the file when the backup or one it references lost one, though pgBackRest exited 0', () => {
    const c = judge(verifyText({ missingIn: FULL, fullStatus: 'invalid', incrStatus: 'invalid' }));
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`backup ${FULL} is invalid`));
    assert.match(c.detail, /file missing '20261206-144756F\/pg_data\/base\/5\/1259.gz'/);
  });

  it('FAIL on invalid WAL, and when verify did not complete', () => {
    assert.equal(judge(verifyText({ wal: '3' })).status, 'fail');
    assert.match(judge('ERROR: [055]: unable to load info file', INCR, [FULL], 55).detail, /did not complete \(exit 55\)/);
  });

  it('WARN, not FAIL, when only a newer backup the drilled one does not need is invalid', () => {
    const c = judge(verifyText({ missingIn: INCR, incrStatus: 'invalid' }), FULL, []);
    assert.equal(c.status, 'warn', c.detail);
    assert.match(c.detail, /20261206-144756F_20261206-144808I \(invalid\)/);
  });
});
