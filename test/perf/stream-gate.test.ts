/**
 * The scan gate of the overlapped restore (src/restore/stream-restore.ts) against a real psql and a real sandbox:
 * a crafted dump streamed in chunks cut anywhere reaches psql line by line, and a hostile line injected mid-stream
 * never runs — its side effect (a file on this machine) stays absent although the lines before it were restored.
 * Control runs prove that the same dump, fed to psql without the gate, does run the command.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { waitFor } from '../helpers/safety.js';
import { PlainDumpScanner } from '../../src/scan/plain-dump-scanner.js';
import { ScanGatedFeed } from '../../src/restore/stream-restore.js';
import { startPsqlScript } from '../../src/restore/restore-dump.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

const exists = (p: string) => stat(p).then(() => true, () => false);

describe('the scan gate between pg_dump and psql', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let sandbox: SandboxCluster;
  let markers: string;
  let n = 0;
  before(async () => {
    dir = await scratchDir();
    // psql and the server run as the sandbox's OS user: it must be able to create the marker files, and (in a
    // bwrap jail) to see their directory.
    markers = await mkdtemp(join(tmpdir(), 'pgdrill-gate-markers-'));
    await chmod(markers, 0o777);
    sandbox = await startSource({ parentDir: dir.path, label: 'gate-sandbox', shared: [markers] });
  });
  after(async () => {
    await sandbox?.stop();
    await dir?.[Symbol.asyncDispose]();
    if (markers) await rm(markers, { recursive: true, force: true });
  });

  const tableExists = async (db: string, t: string) => (await psql(sandbox, db, { sql: `SELECT to_regclass('public.${t}') IS NOT NULL` })).trim() === 't';
  const newDb = async () => {
    const db = `gate_${++n}`;
    await psql(sandbox, 'postgres', { sql: `CREATE DATABASE ${db}` });
    return db;
  };
  function pieces(text: string, size: number): Buffer[] {
    const b = Buffer.from(text);
    const out: Buffer[] = [];
    for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
    return out;
  }
  /** The fake pg_dump stream: `head` in chunks, then — once psql restored `before_t` — `rest` in chunks. */
  async function* dumpStream(db: string, head: string, rest: string, size: number): AsyncGenerator<Buffer> {
    yield* pieces(head, size);
    await waitFor('before_t restored while the dump still streams', () => tableExists(db, 'before_t'));
    yield* pieces(rest, size);
  }
  /** Stream through the gate into psql, the way the overlapped drill does; the downstream sink stands for the file. */
  async function gated(db: string, stream: AsyncIterable<Buffer> | Iterable<Buffer>, maxHeldBytes?: number) {
    const run = startPsqlScript(sandbox, await bins(), db, 'pipe', { phase: 'dump' });
    const gate = new ScanGatedFeed({
      scanner: new PlainDumpScanner(), maxHeldBytes,
      target: Promise.resolve({ stdin: run.stdin!, kill: () => void run.child.kill('SIGKILL'), exited: run.result }),
    });
    let downstream = 0;
    await pipeline(Readable.from(stream), gate, new Writable({ write: (c: Buffer, _e, cb) => ((downstream += c.length), cb()) }));
    const released = gate.release();
    const result = await run.result;
    return { gate, released, result, downstream };
  }

  const HEAD = 'SET statement_timeout = 0;\nCREATE TABLE public.before_t (id integer);\nINSERT INTO public.before_t VALUES (1);\n';
  const TAIL = 'CREATE TABLE public.after_t (id integer);\n';
  const hostileLines = (marker: string): Record<string, string> => ({
    'a whole-line \\! command': `\\! touch ${marker}\n`,
    'a \\! command after a statement on the same line': `SELECT 1; \\! touch ${marker}\n`,
    'COPY … TO PROGRAM': `COPY (SELECT 1) TO PROGRAM 'touch ${marker}';\n`,
  });

  test('control: without the gate, psql does run what the crafted dumps carry', async () => {
    for (const [what, make] of Object.entries(hostileLines('%M%'))) {
      const marker = join(markers, `control-${++n}`);
      const db = await newDb();
      const text = HEAD + make.replace('%M%', marker) + TAIL;
      const r = await startPsqlScript(sandbox, await bins(), db, Readable.from([Buffer.from(text)]), { phase: 'dump' }).result;
      assert.equal(r.exitCode, 0, `${what}: ${JSON.stringify(r.errors)}`);
      assert.equal(await exists(marker), true, `${what}: psql ran it`);
    }
  });

  for (const size of [1, 7, 4096]) {
    test(`a hostile line mid-stream is never run (chunks of ${size} byte(s)); the lines before it were restored`, async () => {
      for (const [what, make] of Object.entries(hostileLines('%M%'))) {
        const marker = join(markers, `hostile-${size}-${++n}`);
        const db = await newDb();
        const rest = make.replace('%M%', marker) + TAIL;
        const total = Buffer.byteLength(HEAD + rest);
        const r = await gated(db, dumpStream(db, HEAD, rest, size));
        assert.equal(r.gate.stopped, 'hostile', what);
        assert.equal(r.released, false, `${what}: psql never got the end of its input`);
        assert.equal(r.result.exitCode, null, `${what}: psql was killed`);
        assert.equal(await exists(marker), false, `${what}: the side effect is absent`);
        assert.equal(await tableExists(db, 'before_t'), true, `${what}: restored while streaming`);
        assert.equal(await tableExists(db, 'after_t'), false, `${what}: nothing after the hostile line`);
        assert.equal(r.downstream, total, `${what}: every byte still reached the file`);
      }
    });
  }

  test('a chunk boundary right after the hostile line\'s newline, and a hostile last line without newline', async () => {
    const m1 = join(markers, `boundary-${++n}`);
    const db1 = await newDb();
    const line = `\\! touch ${m1}\n`;
    const r1 = await gated(db1, (async function* () {
      yield Buffer.from(HEAD);
      await waitFor('before_t restored', () => tableExists(db1, 'before_t'));
      yield Buffer.from(line); // this chunk ends exactly with the hostile line's newline
      yield Buffer.from(TAIL);
    })());
    assert.equal(r1.gate.stopped, 'hostile');
    assert.equal(await exists(m1), false);

    // psql runs a last line without newline at the end of its input: the gate holds it until finish() judged it.
    const m2 = join(markers, `eof-${++n}`);
    const db2 = await newDb();
    const r2 = await gated(db2, dumpStream(db2, HEAD, `\\! touch ${m2}`, 5));
    assert.equal(r2.gate.stopped, 'hostile');
    assert.equal(r2.released, false);
    assert.equal(await exists(m2), false);
  });

  test('a line longer than the hold limit is forwarded without its newline; a command at its end still never runs', async () => {
    const marker = join(markers, `long-${++n}`);
    const db = await newDb();
    const long = `SELECT '${'x'.repeat(400)}'; \\! touch ${marker}\n`;
    const r = await gated(db, dumpStream(db, HEAD, long + TAIL, 8), 32);
    assert.equal(r.gate.stopped, 'hostile');
    assert.ok(r.gate.forwardedBytes > Buffer.byteLength(HEAD) + 300, `most of the long line went to psql (${r.gate.forwardedBytes} bytes)`);
    assert.equal(await exists(marker), false);
  });

  test('a clean dump is restored through the gate, psql ends only on release()', async () => {
    const db = await newDb();
    const text = HEAD + 'COPY public.before_t (id) FROM stdin;\n2\n3\n\\.\n' + TAIL;
    const r = await gated(db, pieces(text, 3));
    assert.equal(r.gate.stopped, null);
    assert.equal(r.released, true);
    assert.equal(r.result.exitCode, 0, JSON.stringify(r.result.errors));
    assert.equal(r.gate.forwardedBytes, Buffer.byteLength(text));
    assert.equal((await psql(sandbox, db, { sql: 'SELECT count(*) FROM public.before_t' })).trim(), '3');
    assert.equal(await tableExists(db, 'after_t'), true);
  });

  test('psql stopping on an error does not stall the stream: the rest flows on to the file', async () => {
    const db = await newDb();
    const filler = '-- filler comment line to outlast every buffer between the gate and psql (4 MiB may queue)\n'.repeat(200_000);
    const text = HEAD + 'SELECT * FROM no_such_table;\n' + filler + TAIL;
    // Chunks arrive as from a pipe, one per turn of the event loop.
    const r = await gated(db, (async function* () {
      for (const p of pieces(text, 65536)) {
        await new Promise((res) => setImmediate(res));
        yield p;
      }
    })());
    assert.equal(r.gate.stopped, 'consumer-exited');
    assert.equal(r.downstream, Buffer.byteLength(text));
    assert.equal(r.result.exitCode, 3);
    assert.match(r.result.errors[0]!.message, /no_such_table/);
  });
});
