/** pg_dump's own BEGIN/COMMIT around large-object data: which lines the scanner marks, and how they are dropped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlainDumpScanner } from '../../src/scan/plain-dump-scanner.js';
import { RangeBlanker } from '../../src/restore/transaction-lines.js';

/** pg_dump 15's layout of large-object data, and odd text around it that must never be marked. */
const DUMP = [
  "SET standard_conforming_strings = on;", // 1
  "CREATE TABLE public.t (a text);", // 2
  "SELECT 'a", // 3: a literal spanning lines
  "BEGIN;", // 4: inside it
  "';", // 5
  "COPY public.t (a) FROM stdin;", // 6
  "BEGIN;", // 7: COPY data
  "\\.", // 8
  "BEGIN;", // 9: a top-level BEGIN outside a BLOBS entry: not pg_dump's large-object transaction
  "--", // 10
  "-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -", // 11
  "--", // 12
  "", // 13
  "BEGIN;", // 14: pg_dump's
  "", // 15
  "SELECT pg_catalog.lo_open('4242', 131072);", // 16
  "SELECT pg_catalog.lowrite(0, '\\x0102');", // 17
  "SELECT pg_catalog.lo_close(0);", // 18
  "SELECT 'x", // 19: a literal opened inside the entry (not pg_dump's, but the scanner must follow it)
  "COMMIT;", // 20: inside the literal
  "';", // 21
  "SELECT 1", // 22: a statement continued on the next line
  "COMMIT;", // 23: ends that statement, not a line of its own
  "COMMIT;", // 24: pg_dump's
  "", // 25
  "--", // 26
  "-- Name: t; Type: ACL; Schema: public; Owner: -", // 27
  "--", // 28
  "COMMIT;", // 29: outside the entry
  "",
].join('\n');

test('the scanner marks only pg_dump\'s whole top-level BEGIN;/COMMIT; lines of a BLOBS entry', () => {
  for (const cut of [1, 7, 64, DUMP.length]) {
    const s = new PlainDumpScanner();
    const buf = Buffer.from(DUMP);
    for (let i = 0; i < buf.length; i += cut) s.push(buf.subarray(i, i + cut));
    const r = s.finish();
    assert.deepEqual(r.pgDumpTransactionLines.map((t) => t.line), [14, 24], `chunks of ${cut}`);
    // Their bytes: exactly the line's text, without the newline.
    assert.deepEqual(r.pgDumpTransactionLines.map((t) => buf.subarray(t.start, t.end).toString()), ['BEGIN;', 'COMMIT;']);
    assert.equal(buf[r.pgDumpTransactionLines[1]!.end], 0x0a);
    assert.equal(s.pgDumpTransactions, r.pgDumpTransactionLines);
  }
});

test('the blanker drops the listed bytes (the lines\' text), keeps every newline, across any chunking', () => {
  const text = 'a\nBEGIN;\nb\r\nCOMMIT;\nlast';
  const ranges = [{ start: 2, end: 8 }, { start: 12, end: 19 }];
  assert.equal(text.slice(2, 8) + text.slice(12, 19), 'BEGIN;COMMIT;');
  for (let cut = 1; cut <= text.length; cut++) {
    const b = new RangeBlanker(ranges);
    const buf = Buffer.from(text);
    let out = '';
    for (let i = 0; i < buf.length; i += cut) out += b.rewrite(buf.subarray(i, i + cut)).toString();
    assert.equal(out, 'a\n\nb\r\n\nlast', `chunks of ${cut}`);
    assert.equal(b.dropped, 2);
  }
  const none = new RangeBlanker([{ start: 100, end: 106 }]);
  const chunk = Buffer.from('x\ny\n');
  assert.equal(none.rewrite(chunk), chunk, 'no range in the chunk: the same buffer');
});

test('ranges listed while the blanker works (the overlapped gate) are dropped all the same', () => {
  const ranges: { start: number; end: number }[] = [];
  const b = new RangeBlanker(ranges);
  assert.equal(b.rewrite(Buffer.from('abc\n')).toString(), 'abc\n');
  ranges.push({ start: 4, end: 10 });
  assert.equal(b.rewrite(Buffer.from('BEGIN;\nx\n')).toString(), '\nx\n');
});
