/**
 * A crash — an exception or a rejection nothing handled, i.e. a bug — still kills the running child tools and tears
 * the sandbox down before the process exits 70 (EX_SOFTWARE: a bug, not a verdict) (src/cli/crash.ts, installed by the CLI), and removes the partial dump
 * being written. A child process installs the handler exactly as the CLI does, starts a tool, a partial dump and a
 * real sandbox, then crashes; without the handler node exits 1 and the tool, the file, the postmaster and its data stay.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { spawnOutput, type ProcessOutput } from '../helpers/spawn-output.js';
import { scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase, waitFor } from '../helpers/safety.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { InternalError } from '../../src/errors.js';
import { ReportSchema } from '../../src/report/model.js';
import { exists } from '../helpers/leftovers.js';
import { isAlive } from '../../src/exec/process-liveness.js';

const src = (p: string) => pathToFileURL(resolve(import.meta.dirname, '../../src', p)).href;

/** The child: handler installed, a sandbox started (its facts printed), then the crash `how`. */
function script(parent: string, how: 'exception' | 'rejection'): string {
  return `
import { installCrashHandler } from ${JSON.stringify(src('cli/crash.ts'))};
import { SandboxCluster } from ${JSON.stringify(src('sandbox/cluster.ts'))};
import { localToolchain } from ${JSON.stringify(src('toolchain/toolchain.ts'))};
import { resolveSandboxUser } from ${JSON.stringify(src('exec/os-user.ts'))};
import { silentLogger } from ${JSON.stringify(src('logger.ts'))};
import { readFile, writeFile } from 'node:fs/promises';
import { startProcess } from ${JSON.stringify(src('exec/run-process.ts'))};
import { registerPartial } from ${JSON.stringify(src('backup/partial-files.ts'))};
installCrashHandler();
const tool = startProcess({ bin: '/bin/sleep', args: ['300'], allowFailure: true }); // like a pg_dump under way
const partial = ${JSON.stringify(parent)} + '/db.sql.partial'; // and the file it writes, registered as takeDump does
await writeFile(partial, 'SET statement_timeout = 0;');
registerPartial(partial);
const sb = await SandboxCluster.start({ bins: await localToolchain(), parentDir: ${JSON.stringify(parent)}, osUser: await resolveSandboxUser(), logger: silentLogger });
const pid = Number((await readFile(sb.dataDir + '/postmaster.pid', 'utf8')).split('\\n')[0]);
process.stdout.write(JSON.stringify({ pid, tool: tool.child.pid, partial, dataDir: sb.dataDir, rootDir: sb.rootDir, socketDir: sb.socketDir }) + '\\n');
${how === 'exception' ? "setTimeout(() => { throw new Error('boom: a bug'); }, 10);" : "setTimeout(() => void Promise.reject(new Error('boom: a bug')), 10);"}
setInterval(() => {}, 1000); // a stage still waiting for something
`;
}

function run(file: string): Promise<ProcessOutput> {
  return spawnOutput(process.execPath, ['--import', 'tsx', file]);
}

describe('a crash tears the sandboxes down before exiting 70', () => {
  for (const how of ['exception', 'rejection'] as const) {
    test(`an uncaught ${how}`, async () => {
      await using dir = await scratchDir();
      const file = join(dir.path, `crash-${how}.mts`);
      await writeFile(file, script(dir.path, how));
      const r = await run(file);
      const sb = JSON.parse(r.stdout.split('\n')[0] || 'null') as { pid: number; tool: number; partial: string; dataDir: string; rootDir: string; socketDir: string } | null;
      assert.ok(sb, `the sandbox did not start: ${r.stderr}`);
      try {
        assert.equal(r.code, 70, r.stderr);
        assert.match(r.stderr, /pgdrill: internal error \(a bug; please report it\): Error: boom: a bug \(exit 70; PGDRILL_DEBUG=1 shows the stack\)/);
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack without PGDRILL_DEBUG');
        assert.equal(isAlive(sb.pid), false, 'the postmaster is gone');
        assert.equal(isAlive(sb.tool), false, 'the child tool is gone');
        assert.equal(await exists(sb.partial), false, 'the partial dump is removed');
        assert.equal(await exists(sb.rootDir), false, sb.rootDir);
        assert.equal(await exists(sb.socketDir), false, sb.socketDir);
      } finally {
        // Without the handler the sandbox outlives the crash: remove it here (immediate shutdown, then its files).
        if (isAlive(sb.tool)) process.kill(sb.tool, 'SIGKILL');
        if (isAlive(sb.pid)) process.kill(sb.pid, 'SIGQUIT');
        await waitFor('the left postmaster to exit', async () => !isAlive(sb.pid), 30_000);
        await rm(sb.rootDir, { recursive: true, force: true });
        await rm(sb.socketDir, { recursive: true, force: true });
      }
    });
  }
});

describe('a bug inside a drill is exit 70, not a FAIL of the backup', () => {
  test('a TypeError in a stage ends the drill: InternalError (exit 70) naming run.log, which holds the stack; report written, sandbox torn down', async () => {
    await using d = await scratchDir();
    const source = await startSource({ parentDir: d.path });
    try {
      await createAppDatabase(source, 'shop');
      const out = join(d.path, 'out');
      let err: unknown;
      await runDrill({
        source: urlOf(source, 'shop'), outDir: out,
        afterRestore: async () => void (null as unknown as { x: number }).x, // a TypeError, as a bug in a stage would raise
      }).catch((e: unknown) => void (err = e));
      assert.ok(err instanceof InternalError, String(err));
      assert.equal(err.exitCode, 70);
      assert.match(err.runLog ?? '', /\/run\.log$/);
      assert.match(await readFile(err.runLog!, 'utf8'), /drill aborted: TypeError: Cannot read properties of null[^\n]*\n\s+at /);
      const report = ReportSchema.parse(JSON.parse(await readFile(join(dirname(err.runLog!), 'report.json'), 'utf8')));
      assert.equal(report.status, 'FAIL');
      assert.ok(report.checks.some((c) => c.name === 'drill.aborted'));
      assert.equal(report.teardown.confirmed, true, report.teardown.detail);
    } finally {
      await source.stop();
    }
  });
});

describe('bad paths are told in one line, never a stack', () => {
  test('--out under a file: exit 4 naming the path; --out on /proc or /sys: exit 2 at once (mkdir -p there never ends)', async () => {
    await using d = await scratchDir();
    const dump = join(d.path, 'x.sql');
    const file = join(d.path, 'a-file');
    await writeFile(dump, '--\n-- PostgreSQL database dump\n--\n\nSELECT 1;\n');
    await writeFile(file, 'not a directory\n');
    const r = await runCli(['verify', dump, '--out', join(file, 'sub')]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^pgdrill: ENOTDIR: not a directory, mkdir '.*a-file\/sub'$/m);
    assert.doesNotMatch(r.stderr, /^\s+at |internal error/m);
    for (const out of ['/proc/pgdrill-nope/x', '/sys/pgdrill-nope']) {
      const t0 = Date.now();
      const v = await runCli(['verify', dump, '--out', out]);
      assert.equal(v.code, 2, v.stderr);
      assert.match(v.stderr, /is on a (proc|sysfs) file system \(the kernel's, not a disk\)/);
      assert.ok(Date.now() - t0 < 30_000);
    }
  });
});
