import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareCodePoints } from '../../src/fidelity/catalog-diff.js';
import { decodeServerBytes, encodeServerText, hasEscapedBytes, serverBytesDecoder, showBytes } from '../../src/pg/server-bytes.js';
import { displayName, encodingOfDumpHead, SQL_ASCII } from '../../src/scan/dump-encoding.js';
import { showBytesIn } from '../../src/report/show-bytes.js';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

test('SQL_ASCII bytes: valid UTF-8 as characters, every other byte escaped, and back exactly', () => {
  assert.equal(decodeServerBytes(hex('636166e9')), 'caf\udce9');
  assert.equal(decodeServerBytes(Buffer.from('naïve €𝄞', 'utf8')), 'naïve €𝄞');
  // overlong, surrogate halves, beyond U+10FFFF, a lone continuation byte, a cut sequence: all escaped byte by byte
  for (const bad of ['c0af', 'eda080', 'f4908080', '80', 'e282', 'f0', 'ff']) {
    const s = decodeServerBytes(hex(bad));
    assert.ok(hasEscapedBytes(s), bad);
    assert.deepEqual(encodeServerText(s), hex(bad), bad);
  }
  let seed = 7;
  for (let n = 0; n < 300; n++) {
    const b = Buffer.from(Array.from({ length: n % 40 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256));
    assert.deepEqual(encodeServerText(decodeServerBytes(b)), b);
  }
});

test('an escaped byte is never confused with a character: a real pair whose low half is DC80 stays a character', () => {
  const astral = String.fromCodePoint(0x10080); // D800 DC80
  assert.equal(hasEscapedBytes(astral), false);
  assert.equal(showBytes(astral), astral);
  assert.deepEqual(encodeServerText(`${astral}\udc80`), Buffer.concat([Buffer.from(astral, 'utf8'), hex('80')]));
  assert.equal(showBytes('s\udce9.caf\udce9 — ü'), 's\\xe9.caf\\xe9 — ü');
});

test('the streaming decoder equals the whole decoding wherever the chunks are cut', () => {
  const bytes = Buffer.concat([Buffer.from('é€𝄞 ', 'utf8'), hex('e9 c3 e2 82 f0 9d 84'), Buffer.from('\n𝄞', 'utf8')]);
  const whole = decodeServerBytes(bytes);
  for (let cut = 0; cut <= bytes.length; cut++) {
    for (let cut2 = cut; cut2 <= bytes.length; cut2++) {
      const d = serverBytesDecoder();
      const got = d.write(bytes.subarray(0, cut)) + d.write(bytes.subarray(cut, cut2)) + d.write(bytes.subarray(cut2)) + d.end();
      assert.equal(got, whole, `${cut}/${cut2}`);
    }
  }
});

test('names from a SQL_ASCII database order as the server orders their bytes', () => {
  const names = ['a', 'caf\udce9', 'café', 'caf\udc80', 'cafe', 'z', '\udcff', 'é'].map((s) => s);
  const byBytes = [...names].sort((a, b) => Buffer.compare(encodeServerText(a), encodeServerText(b)));
  assert.deepEqual([...names].sort(compareCodePoints), byBytes);
});

test('a SQL_ASCII dump is decoded like a session, its names shown with \\xNN; a report shows every such byte', () => {
  assert.equal(encodingOfDumpHead(Buffer.from("--\nSET statement_timeout = 0;\nSET client_encoding = 'SQL_ASCII';\n")), SQL_ASCII);
  assert.equal(encodingOfDumpHead(Buffer.from("SET client_encoding = 'LATIN1';\n")).name, 'LATIN1');
  assert.equal(encodingOfDumpHead(Buffer.from('-- no setting\n')).name, 'UTF8');
  const d = SQL_ASCII.decoder();
  assert.equal(displayName(SQL_ASCII, d.write(hex('636166e9 20 c3a9')) + d.end()), 'caf\\xe9 é');
  const report = { tables: [{ schema: 's\udce9', name: 'plain' }], detail: 'x', n: 1, none: null, evidence: { 'k\udce9': ['v\udce9'] } };
  assert.deepEqual(showBytesIn(report), { tables: [{ schema: 's\\xe9', name: 'plain' }], detail: 'x', n: 1, none: null, evidence: { 'k\\xe9': ['v\\xe9'] } });
});
