import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CopyLineHasher, hashCopyText } from '../../src/scan/copy-hash.js';
import { PlainDumpScanner } from '../../src/scan/plain-dump-scanner.js';
import { asciiIdentifiers, copyOutSql, dumpSessionStatements } from '../../src/fidelity/copy-hash-restored.js';

/** Feed `text` to a hasher cut at every `step` bytes. */
function chunked(text: Buffer, step: number): ReturnType<CopyLineHasher['finish']> {
  const h = new CopyLineHasher();
  for (let i = 0; i < text.length; i += step) h.update(text, i, Math.min(text.length, i + step));
  return h.finish();
}

describe('COPY-line hash (src/scan/copy-hash.ts)', () => {
  const rows = '1\tMARY\t\\N\n2\t\t2022-02-15 09:57:20+00\n3\tJOSÉ\t{1,2}\n';

  test('order-independent: the same lines in another order hash equal', () => {
    const a = hashCopyText(rows);
    const b = hashCopyText('3\tJOSÉ\t{1,2}\n1\tMARY\t\\N\n2\t\t2022-02-15 09:57:20+00\n');
    assert.equal(a.hash, b.hash);
    assert.equal(a.rows, 3);
    assert.match(a.hash, /^c2:[0-9a-f]{16}$/);
  });

  test('any cut of the input gives the same hash (chunks split lines and characters anywhere)', () => {
    const buf = Buffer.from(rows + '\\.\n');
    const whole = hashCopyText(buf);
    for (const step of [1, 2, 3, 5, 7, 64]) assert.deepEqual(chunked(buf, step), whole, `step ${step}`);
  });

  test('4 bytes at a time: every line length, every cut, every changed byte (words cut by a chunk boundary)', () => {
    const lines = Array.from({ length: 14 }, (_, n) => 'abcdefghijklmn'.slice(0, n));
    const buf = Buffer.from(lines.join('\n') + '\n');
    const whole = hashCopyText(buf);
    assert.equal(whole.rows, 14);
    for (const step of [1, 2, 3, 4, 5, 6, 9]) assert.deepEqual(chunked(buf, step), whole, `step ${step}`);
    const base = '123456789';
    const seen = new Set([hashCopyText(base).hash]);
    for (let i = 0; i < base.length; i++) seen.add(hashCopyText(`${base.slice(0, i)}x${base.slice(i + 1)}`).hash);
    assert.equal(seen.size, base.length + 1, 'a changed byte at each offset (whole words and the tail) changes the hash');
    assert.notEqual(hashCopyText('ab\n').hash, hashCopyText('ab\0\n').hash, 'a tail is told from the same bytes with NULs');
  });

  test('the terminator line is not a row; a last line without newline is; \\.x is data', () => {
    assert.deepEqual(hashCopyText(rows + '\\.\n'), hashCopyText(rows));
    assert.deepEqual(hashCopyText(rows + '\\.\r\n'), hashCopyText(rows));
    assert.deepEqual(hashCopyText(rows + '\\.'), hashCopyText(rows));
    assert.deepEqual(hashCopyText(rows.slice(0, -1)), hashCopyText(rows));
    assert.equal(hashCopyText(rows + '\\.x\n').rows, 4);
  });

  test('duplicates count (a table without a key): two equal rows do not cancel out', () => {
    const one = hashCopyText('a\tb\n');
    const two = hashCopyText('a\tb\na\tb\n');
    const none = hashCopyText('');
    assert.notEqual(two.hash, none.hash);
    assert.notEqual(two.hash, one.hash);
    assert.equal(two.rows, 2);
  });

  test('NULL (\\N) differs from the empty string, one changed byte changes the hash, and so do empty rows', () => {
    assert.notEqual(hashCopyText('1\t\\N\n').hash, hashCopyText('1\t\n').hash);
    assert.notEqual(hashCopyText(rows).hash, hashCopyText(rows.replace('MARY', 'MARz')).hash);
    assert.notEqual(hashCopyText('\n\n').hash, hashCopyText('\n').hash);
    assert.equal(hashCopyText('\n\n').rows, 2);
  });

  test('bytes, not characters: LATIN1 and UTF-8 spellings of é hash differently, each stable', () => {
    const latin1 = Buffer.from([0x4a, 0x4f, 0x53, 0xc9, 0x0a]);
    const utf8 = Buffer.from('JOSÉ\n');
    assert.notEqual(hashCopyText(latin1).hash, hashCopyText(utf8).hash);
    assert.equal(hashCopyText(latin1).hash, hashCopyText(Buffer.from(latin1)).hash);
  });

  test('the plain-dump scanner hashes each COPY block and names its columns as written', () => {
    const dump = Buffer.from(`SET client_encoding = 'UTF8';\nCOPY public."Odd ""t""" (id, "Name", note) FROM stdin;\n${rows}\\.\nCOPY public.empty (a) FROM stdin;\n\\.\n`);
    for (const step of [1, 13, dump.length]) {
      const s = new PlainDumpScanner();
      for (let i = 0; i < dump.length; i += step) s.push(dump.subarray(i, i + step));
      const [a, e] = s.finish().copyBlocks;
      assert.equal(a!.table, 'public."Odd ""t"""');
      assert.equal(a!.columns, 'id,"Name",note');
      assert.equal(a!.hash, hashCopyText(rows).hash);
      assert.equal(a!.rows, 3);
      assert.equal(e!.rows, 0);
      assert.equal(e!.hash, hashCopyText('').hash);
    }
  });
});

describe('COPY-line hashes on the worker thread (src/scan/copy-hash-worker.ts)', () => {
  test('the same hashes as on the scanner thread, whether the worker takes over at the start, mid-block or mid-line', () => {
    const lines = Array.from({ length: 4000 }, (_, i) => `${i}\tname ${i % 7}\t${i % 3 ? '\\N' : ''}\n`).join('');
    const dump = Buffer.from(`COPY public.a (id, n, x) FROM stdin;\n${lines}\\.\nCOPY public.b (id) FROM stdin;\n\\.\nCOPY public.c (id, n, x) FROM stdin;\n${lines.slice(0, 5000)}\\.\n`);
    const scan = (after: number | undefined, step: number) => {
      const s = new PlainDumpScanner({ hashOffThreadAfter: after });
      for (let i = 0; i < dump.length; i += step) s.push(dump.subarray(i, i + step));
      return s.finish().copyBlocks.map((b) => [b.table, b.rows, b.hash]);
    };
    const inline = scan(undefined, 4096);
    assert.equal(inline[0]![2], hashCopyText(lines).hash);
    for (const [after, step] of [[0, 4096], [7, 1000], [30_001, 333], [0, 1 << 20]] as const) assert.deepEqual(scan(after, step), inline, `after ${after}, step ${step}`);
  });

  test('a dump cut inside a block: the open block is still hashed', () => {
    const s = new PlainDumpScanner({ hashOffThreadAfter: 0 });
    s.push(Buffer.from('COPY public.a (id) FROM stdin;\n1\n2\n3'));
    const [b] = s.finish().copyBlocks;
    assert.equal(b!.terminated, false);
    assert.equal(b!.hash, hashCopyText('1\n2\n3\n').hash);
  });
});

describe("reading the restored copy back (src/fidelity/copy-hash-restored.ts)", () => {
  test('the COPY TO statement names the table and columns as the dump did', () => {
    assert.equal(copyOutSql({ table: 'public."Odd ""t"""', columns: 'id,"Name"' }, 'UTF8'), 'COPY public."Odd ""t""" (id,"Name") TO STDOUT');
    assert.equal(copyOutSql({ table: 'public.t', columns: null }, 'LATIN1'), 'COPY public.t TO STDOUT');
  });

  test('non-ASCII quoted identifiers become U& escapes outside UTF-8 (the statement is ASCII in any client_encoding)', () => {
    assert.equal(asciiIdentifiers('COPY public."café\\x" ("naïve") TO STDOUT'), 'COPY public.U&"caf\\00e9\\\\x" (U&"na\\00efve") TO STDOUT');
    assert.equal(asciiIdentifiers('COPY public."plain" TO STDOUT'), 'COPY public."plain" TO STDOUT');
    assert.equal(copyOutSql({ table: 'public."日本"', columns: null }, 'EUC_JP'), 'COPY public.U&"\\65e5\\672c" TO STDOUT');
  });

  test("pg_dump's settings, the source's TimeZone and bytea_output when known, client_encoding last", () => {
    const s = dumpSessionStatements({ timeZone: "Pacific/Chatham", byteaOutput: 'escape', lcMonetary: null }, 'LATIN1');
    assert.ok(s.includes("SET DateStyle = 'ISO'") && s.includes('SET extra_float_digits = 3') && s.includes("SET IntervalStyle = 'postgres'"));
    assert.ok(s.includes("SET TimeZone = 'Pacific/Chatham'") && s.includes("SET bytea_output = 'escape'"));
    assert.equal(s.at(-1), "SET client_encoding = 'LATIN1'");
    // pg_dump's empty search_path: a regclass value prints schema-qualified.
    assert.ok(s.includes("SET search_path = ''"));
  });
});
