/**
 * Differential tests of the scanner's psql lexer against the real psql (issue 20 §7): the overlapped restore forwards
 * only what the scanner approved, so the two must agree on which backslash commands psql executes. Every input
 * holds `\echo MARK_n` markers; psql (run against a real cluster) prints the markers it executed, the scanner reports
 * the meta-commands it saw. Required: every marker psql executes when run as pgdrill runs it (ON_ERROR_STOP=1) was
 * seen (safety), and — outside `\if` branches, which psql skips — every marker the lexer claims runs was executed by
 * psql going on after errors (no false refusals). Inputs: the hostile cases of test/scan, generated ones
 * (a marker at every position of lines mixing quotes, dollar quotes, comments, casts, variables, COPY), every
 * multi-line construct a marker can hide in, COPY data, `\if` nesting, very long lines and non-UTF-8 bytes.
 * For each psql version on the machine (PG_BINDIR's, i.e. the one pgdrill restores with).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bins, scratchDir, startSource } from '../helpers/clusters.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { scan } from '../scan/scan-helpers.js';

/** One input: its bytes, and whether psql may legitimately skip a marker the lexer sees (inside `\if`). */
interface Case {
  readonly name: string;
  readonly input: Buffer;
  readonly subsetOnly?: boolean;
}

const marker = (n: number): string => `\\echo MARK_${n}`;
const markersIn = (text: string): Set<string> => new Set(text.match(/MARK_\d+/g) ?? []);

/** Lines that mix every construct; a marker goes at each position in turn (the rest follows on the next line). */
const MIXED_LINES = [
  `SELECT 'a''b', E'c\\'d\\\\', "e""f", $$g;'h$$, $t$i$$j$t$, 1 /* k /* l */ m */ + 2 -- n'o`,
  `SELECT U&'\\0041' UESCAPE '!', U&"x", B'01', X'1f', N'z', 'p' 'q', 1::int, 1.5e3, $1, a.b, :'v', :"v", :v, :{?v};`,
  `SELECT (1; 2), '\\', e'\\'', "a\\", $q$ \\ $q$, $_$$_$, $1$ ; SELECT 3;`,
  `CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;`,
  `SELECT a$q$ b, a$$, x1$$ $$, $q$ c $Q$ $q$, $1$q$, "$q$" $q$ d;`,
  `SELECT /*/ x */ 1, /**/ 2, /* -- */ 3, 4 -- /*
5 */ '\r', 'a'
'b', E'\r'
', 6\f;`,
  `CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC; SELECT 'a;'; CASE END; END; SELECT é$é$ "é" 'é';`,
  `COPY t (a) FROM stdin;`,
];

/** Constructs a marker on its own line may hide in: [opening text, closing text, executed?]. */
const WRAPPERS: [string, string][] = [
  [`SELECT 'x`, `y';`], [`SELECT E'x\\'`, `y';`], [`SELECT e'x\\\\`, `y';`], [`SELECT "x`, `y";`], [`SELECT U&'x`, `y';`],
  [`SELECT $$x`, `y$$;`], [`SELECT $a$x $b$`, `y$a$;`], [`SELECT $a$x`, `y $A$ $a$;`], [`SELECT /* x`, `y */ 1;`],
  [`SELECT /* x /* y */`, `z */ 1;`], [`SELECT (1,`, `2);`], [`SELECT 1 -- x '`, `;`], [`SELECT 'x'`, `'y';`],
  [`SELECT 'x' -- c`, `'y';`], [`SELECT 'x'/* c */`, `'y';`], [`SELECT B'1`, `0';`], [`SELECT X'a`, `b';`],
  [`CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC`, `SELECT 1; END;`],
  [`SET standard_conforming_strings = off;\nSELECT 'x\\'`, `y';`], [`SET standard_conforming_strings = on;\nSELECT 'x\\'`, `';`],
];

function buildCases(hostile: readonly string[]): Case[] {
  const cases: Case[] = [];
  const prefix = 'CREATE TEMP TABLE t (a text);\n';
  let n = 0;
  // 1. A marker at every position of each mixed line (psql sees the marker where the line is cut).
  MIXED_LINES.forEach((line, li) => {
    for (let i = 0; i <= line.length; i++) {
      const m = marker(++n);
      const rest = line.slice(i);
      const copyData = li === MIXED_LINES.length - 1 ? 'row\n\\.\n' : '';
      cases.push({ name: `mixed line ${li + 1} at ${i}`, input: Buffer.from(`${prefix}${line.slice(0, i)}${m}\n${rest}\n${copyData}`) });
    }
  });
  // 2. Multi-line constructs, a marker on a line of its own inside, and one after.
  for (const [open, close] of WRAPPERS) {
    const a = marker(++n);
    const b = marker(++n);
    cases.push({ name: `inside ${JSON.stringify(open)}…${JSON.stringify(close)}`, input: Buffer.from(`${prefix}${open}\n${a}\n${close}\n${b}\n`) });
  }
  // 3. COPY data: markers in data lines are data; after `\.` they run; a marker after COPY on its line runs after the data.
  const [c1, c2, c3, c4, c5] = [marker(++n), marker(++n), marker(++n), marker(++n), marker(++n)];
  cases.push({ name: 'COPY data', input: Buffer.from(`${prefix}COPY t FROM stdin;\n${c1}\nx ${c2}\n\\.\n${c3}\n`) });
  cases.push({ name: 'COPY then a marker on the same line', input: Buffer.from(`${prefix}COPY t FROM stdin; ${c4}\nrow\n\\.\n`) });
  cases.push({ name: 'COPY csv', input: Buffer.from(`${prefix}COPY t FROM stdin WITH (FORMAT csv);\n"a\n${c5}\nb"\n\\.\n`) });
  const [c6, c7] = [marker(++n), marker(++n)];
  cases.push({ name: 'two statements, COPY second', input: Buffer.from(`${prefix}SELECT 1; COPY t FROM stdin;\n${c6}\n\\.\n${c7}\n`) });
  // 4. \if nesting: psql skips inactive branches (the lexer may see more, never less).
  const ifs = Array.from({ length: 6 }, () => marker(++n));
  cases.push({
    name: '\\if nesting', subsetOnly: true,
    input: Buffer.from(`\\if false\n${ifs[0]}\n\\if true\n${ifs[1]}\n\\endif\n\\elif true\n${ifs[2]}\n\\if false\n${ifs[3]}\n\\else\n${ifs[4]}\n\\endif\n\\else\n${ifs[5]}\n\\endif\n`),
  });
  // 5. Very long lines.
  const [l1, l2, l3] = [marker(++n), marker(++n), marker(++n)];
  cases.push({ name: 'long line, marker after a closed literal', input: Buffer.from(`SELECT '${'x'.repeat(200_000)}'; ${l1}\n`) });
  cases.push({ name: 'long line, marker inside an open literal', input: Buffer.from(`SELECT '${'x'.repeat(200_000)}\n${l2}\n';\n`) });
  cases.push({ name: 'long comment line', input: Buffer.from(`/* ${'*'.repeat(100_000)} */ ${l3}\n`) });
  // 6. Non-UTF-8 bytes around quotes and backslashes.
  for (const b of [0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xef, 0xf0, 0xf4, 0xf8, 0xfe, 0xff]) {
    const [x, y] = [marker(++n), marker(++n)];
    cases.push({
      name: `byte 0x${b.toString(16)}`,
      input: Buffer.concat([Buffer.from(`SELECT '`), Buffer.from([b]), Buffer.from(`'; ${x}\nSELECT '`), Buffer.from([b]), Buffer.from(`\n${y}\n';\n`)]),
    });
    const z = marker(++n);
    cases.push({ name: `byte 0x${b.toString(16)} before a backslash`, input: Buffer.concat([Buffer.from('SELECT 1 '), Buffer.from([b]), Buffer.from(`${z}\n`)]) });
  }
  // 7. Random sequences of the tokens that change the lexer's state (seeded: reproducible), a marker on every line.
  const ATOMS = ["'", '"', '$$', '$a$', '$b$', '/*', '*/', '--', '\\', '\\\\', 'E', "E'", 'U&', "''", '\r', ';', '(', ')', 'x', ' ', '\n', '\n', '\n', 'COPY t FROM stdin;\n', '\\.\n', 'SET standard_conforming_strings = off;\n', 'BEGIN', 'CREATE FUNCTION', 'END',
    ":'v'", ':"v"', ':v', 'U&"', " UESCAPE '!'", "B'", "X'", "N'", '$1', 'é', '\t', "''''", '1e', 'x$', '\\;', "E'\\\\'"];
  // PGDRILL_DIFF_SEED / PGDRILL_DIFF_RANDOM explore further (the suite runs the fixed seed).
  let seed = Number(process.env.PGDRILL_DIFF_SEED ?? 20) >>> 0 || 20;
  const rnd = (k: number): number => {
    seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; // xorshift32
    return seed % k;
  };
  for (let c = 0, count = Number(process.env.PGDRILL_DIFF_RANDOM ?? 120); c < count; c++) {
    let text = prefix;
    for (let a = 0, len = 4 + rnd(30); a < len; a++) {
      const atom = ATOMS[rnd(ATOMS.length)]!;
      text += atom.endsWith('\n') ? `${atom.slice(0, -1)} ${marker(++n)}\n` : atom;
    }
    cases.push({ name: `random ${c}`, input: Buffer.from(`${text} ${marker(++n)}\n`) });
  }
  // 8. The placements test/scan/hostile-content.test.ts asserts by hand, each command replaced by a marker.
  for (const tpl of PLACEMENTS) {
    cases.push({ name: `placement: ${tpl.slice(0, 60)}`, input: Buffer.from(prefix + tpl.replace(/@M@/g, () => marker(++n))) });
  }
  // 9. The hostile inputs of the scanner tests, each followed by a marker on a line of its own.
  for (const h of hostile) {
    const m = marker(++n);
    cases.push({ name: `hostile: ${h.slice(0, 60)}`, input: Buffer.from(`${h}\n${m}\n`) });
  }
  return cases;
}

/** Hostile lines from test/scan (what the hand-written tests assert the scanner catches), made harmless. */
const HOSTILE = [
  `\\! true`, `SELECT 1; \\! true`, `/* c */ \\! true`, `SELECT 'a' \\! true`, `SELECT "a" \\o /dev/null`, `\\o |cat`,
  `\\set x \`true\``, `SELECT $$ $$ \\! true`, `SELECT 1 \\; SELECT 2;`, `SELECT 1 \\gexec`, `\\i /dev/null`,
  `SELECT E'\\\\' \\! true`, `SELECT 'it''s' \\! true`, `SELECT $a$ $b$ $a$ \\! true`, `SELECT 1 -- \\! true`,
  `SELECT '\\' \\! true`, `SELECT $$\\$$ \\! true`, `SELECT U&'\\' \\! true`, `SELECT 1\r\\! true`, `SELECT 1 /* \\! */ \\! true`,
];

/** The cases of test/scan/hostile-content.test.ts about where psql runs a backslash command; `@M@` is a marker. */
const PLACEMENTS = [
  'SELECT 1;\n@M@\n', 'SELECT 1 @M@\n', 'SELECT $$ body\nmore $$ @M@\n', 'SELECT $a$ $b$ @M@ $b$ $a$ @M@\n', 'SELECT x$$ @M@\n',
  '-- harmless\r@M@\n', "SELECT E'abc\\\n' @M@\n", "SELECT 'C:\\' @M@\n", "SELECT B'0\\' @M@\n",
  'SELECT 1 @M@\nCOPY t FROM stdin;\n@M@\n\\.\n', 'CREATE FUNCTION begin;\nCOPY t FROM stdin;\n@M@\n\\.\n', 'COPY t FROM stdin (;\n@M@\n',
  "COPY t FROM stdin; SELECT 'x\nrow\n\\.\n' @M@\n",
  "SELECT 'a @M@';\nSELECT E'it\\'s @M@';\nSELECT $fn$ @M@ $x$ @M@ $fn$;\nSELECT \"a @M@\";\n",
  "SELECT U&'\\0041 @M@';\nSELECT 'line one\n@M@ line two';\n", "SELECT 'a'\r'b @M@';\n",
  '-- @M@\n/* outer /* inner */ @M@ still comment */ SELECT 1;\n/*\n@M@\n*/\n', '/* a /* b */ */ @M@\n',
  "COPY t (a) FROM stdin;\nx @M@\n'; DROP TABLE x; --\n$$ @M@\n@M@\n\\.\nSELECT 1;\n",
  "SET standard_conforming_strings = off;\nSELECT 'a\\' @M@';\n", "SET standard_conforming_strings = off; SELECT 'a\\' @M@\n",
  // Numbers whose exponent has no digits: the letter (and sign) are scanned again (found by the random inputs).
  'SELECT 1e$a$ @M@\n', 'SELECT 1e$$ x\n@M@\n', 'SELECT 1e--x @M@\n', 'SELECT 1E+$b$ @M@ $b$;\n', 'SELECT 1.e$q$ @M@\n', 'SELECT 1e\n@M@\n',
  "SELECT 1e''''1e$$ @M@\n", 'SELECT 1e-/* @M@\n*/ 2;\n', "SELECT 1e'\\'' @M@\n';\n", "SELECT 1E'x' @M@\n", "SELECT 1.5e$$ @M@\n",
  "SET standard_conforming_strings = off;\nSELECT 1b'\\'' @M@\n';\n", "SET standard_conforming_strings = off;\nSELECT $1b'\\'' @M@\n';\n",
  "SELECT 1.x'1' @M@\n", "SELECT 1e-b'\\' @M@\n",
];

describe('the scanner agrees with real psql on which backslash commands run', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let cluster: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    cluster = await startSource({ parentDir: dir.path });
  });
  after(async () => {
    await cluster?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** Every psql on the machine (Debian's /usr/lib/postgresql/N), and the one pgdrill restores with. */
  const psqls = [...new Set([
    ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : []).map((v) => `/usr/lib/postgresql/${v}/bin/psql`).filter((p) => existsSync(p)),
    ...(process.env.PG_BINDIR ? [join(process.env.PG_BINDIR, 'psql')] : []),
  ])];
  for (const psqlBin of psqls.length ? psqls : [null]) test(`${psqlBin ?? 'psql'}: every marker psql executes is seen, and (outside \\if) every marker seen is executed`, async (t) => {
    const b = await bins();
    const bin = psqlBin ?? b.path('psql');
    const cases = buildCases(HOSTILE);
    const disagreements: string[] = [];
    let i = 0;
    let ran = 0;
    let hidden = 0;
    for (const c of cases) {
      const file = join(dir.path, `case-${i++}.sql`);
      await writeFile(file, c.input);
      // As pgdrill runs psql (ON_ERROR_STOP=1): what it executes must all be seen. And going on after errors (psql's
      // default), which executes at least as much: what the lexer claims must run. A COPY … FROM stdin that fails
      // leaves psql outside COPY mode, its "data" read as commands; only ON_ERROR_STOP, which ends psql at that
      // error, keeps the scanner's COPY-data reading safe — so the safety side is judged as pgdrill runs psql.
      const run = (stop: boolean) => runProcess({
        bin, args: ['-X', '-q', ...(stop ? ['-v', 'ON_ERROR_STOP=1'] : []), '-o', '/dev/null', '-f', file],
        env: cluster.env('postgres'), stdout: 'capture', allowFailure: true,
      });
      const stopped = markersIn((await run(true)).stdout);
      const executed = markersIn((await run(false)).stdout);
      // A finding's text runs from its backslash to the end of the line: a marker in it is on a refused line (what
      // safety needs); a finding that starts with the marker is the lexer's claim that psql runs exactly it (psql
      // drops the rest of a line after an invalid command, so a marker later on such a line does not run).
      const seen = new Set<string>();
      const claimed = new Set<string>();
      for (const f of scan(c.input).findings) {
        if (f.kind !== 'meta-command') continue;
        for (const m of markersIn(f.text)) seen.add(m);
        const first = /^\\echo (MARK_\d+)/.exec(f.text)?.[1];
        if (first) claimed.add(first);
      }
      ran += executed.size;
      hidden += (c.input.toString('latin1').match(/MARK_\d+/g) ?? []).length - executed.size;
      const missed = [...stopped].filter((m) => !seen.has(m));
      const extra = c.subsetOnly ? [] : [...claimed].filter((m) => !executed.has(m));
      if (missed.length || extra.length) {
        disagreements.push(`${c.name}: psql ran ${missed.length ? `${missed.join(',')} unseen by the lexer` : ''}${missed.length && extra.length ? '; ' : ''}${extra.length ? `lexer saw ${extra.join(',')} that psql did not run` : ''} — input ${JSON.stringify(c.input.toString('latin1').slice(0, 300))}`);
      }
    }
    assert.deepEqual(disagreements, [], `${disagreements.length} of ${cases.length} inputs disagree (${bin})`);
    t.diagnostic(`${cases.length} inputs, ${bin}: ${ran} marker(s) ran, ${hidden} did not; lexer and psql agree on all`);
    // The comparison means something only if psql ran many markers and skipped many (inside literals, comments, COPY data).
    assert.ok(ran > 200 && hidden > 100, `psql ran ${ran} marker(s) and skipped ${hidden} over ${cases.length} inputs`);
  });
});
