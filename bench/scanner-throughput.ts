/**
 * Throughput of PlainDumpScanner on a COPY-heavy plain dump (~200 MB built in memory, fed in 64 KiB chunks),
 * plus a smaller INSERT-style dump (pg_dump --inserts) that exercises the SQL lexer instead of the COPY path.
 * Run: npx tsx bench/scanner-throughput.ts [sizeMB]
 */
import { PlainDumpScanner } from '../src/scan/plain-dump-scanner.js';

const targetMB = Number(process.argv[2] ?? 200);
const CHUNK = 64 * 1024;

const HEADER = `--
-- PostgreSQL database dump
--

\\restrict 9vJ1a7VOyOqgyPXqgZrD2Q0kFNmDLAe4zYqMZ3ZRk1w1sT7bXyuQ6lVm0mXnHhF

-- Dumped from database version 15.18
-- Dumped by pg_dump version 15.18

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: customer; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.customer (
    customer_id integer NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text,
    active boolean DEFAULT true NOT NULL,
    create_date date DEFAULT CURRENT_DATE NOT NULL,
    last_update timestamp with time zone DEFAULT now(),
    note text,
    balance numeric(10,2)
);

ALTER TABLE public.customer OWNER TO postgres;
`;

const FIRST = ['MARY', 'PATRICIA', 'LINDA', 'BARBARA', 'ELIZABETH', 'JENNIFER', 'MARÍA', 'SUSAN', 'MARGARET', 'DOROTHY'];
const LAST = ['SMITH', 'JOHNSON', 'WILLIAMS', 'JONES', 'BROWN', 'DAVIS', 'MILLER', 'WILSON', 'MOORE', 'TAYLOR'];

function row(i: number): string {
  const f = FIRST[i % 10];
  const l = LAST[(i * 7) % 10];
  const note = i % 3 === 0 ? '\\N' : `Customer since ${2000 + (i % 23)}\\tsegment ${i % 17}`;
  return `${i}\t${f}\t${l}\t${f}.${l}@sakilacustomer.org\t${i % 5 === 0 ? 'f' : 't'}\t2022-02-14\t2022-02-15 09:57:20+00\t${note}\t${(i % 10000) / 100}\n`;
}

function buildCopyDump(bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes + 1024 * 1024);
  let off = buf.write(HEADER);
  let i = 1;
  let table = 0;
  while (off < bytes) {
    const head = `\n--\n-- Data for Name: customer_${table}; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\nCOPY public.customer_${table} (customer_id, first_name, last_name, email, active, create_date, last_update, note, balance) FROM stdin;\n`;
    off += buf.write(head, off);
    const blockEnd = Math.min(bytes, off + 20 * 1024 * 1024);
    while (off < blockEnd) off += buf.write(row(i++), off);
    off += buf.write('\\.\n', off);
    table++;
  }
  off += buf.write('\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict 9vJ1a7VOyOqgyPXqgZrD2Q0kFNmDLAe4zYqMZ3ZRk1w1sT7bXyuQ6lVm0mXnHhF\n\n', off);
  return buf.subarray(0, off);
}

function buildInsertDump(bytes: number): Buffer {
  const parts: string[] = [HEADER];
  let size = HEADER.length;
  for (let i = 1; size < bytes; i++) {
    const f = FIRST[i % 10];
    const l = LAST[(i * 7) % 10];
    const s = `INSERT INTO public.customer VALUES (${i}, '${f}', 'O''${l}', '${f}.${l}@example.org', ${i % 5 !== 0}, '2022-02-14', '2022-02-15 09:57:20+00', ${i % 3 === 0 ? 'NULL' : `'note ${i}'`}, ${(i % 10000) / 100});\n`;
    parts.push(s);
    size += s.length;
  }
  parts.push('\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict 9vJ1a7VOyOqgyPXqgZrD2Q0kFNmDLAe4zYqMZ3ZRk1w1sT7bXyuQ6lVm0mXnHhF\n\n');
  return Buffer.from(parts.join(''));
}

function measure(label: string, data: Buffer, rounds: number, hashCopyData = true, hashOffThreadAfter?: number): number {
  let best = Infinity;
  let result;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const s = new PlainDumpScanner({ hashCopyData, hashOffThreadAfter });
    for (let off = 0; off < data.length; off += CHUNK) s.push(data.subarray(off, off + CHUNK));
    result = s.finish();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    best = Math.min(best, ms);
  }
  if (!result) throw new Error(`${label}: rounds must be at least 1`);
  const mb = data.length / 1e6;
  const rows = result.copyBlocks.reduce((a, b) => a + b.rows, 0);
  console.log(`${label}: ${mb.toFixed(1)} MB, ${result.lines} lines, ${rows} COPY rows, ${result.findings.length} findings, complete=${result.trailer.complete}`);
  console.log(`  best of ${rounds}: ${best.toFixed(0)} ms = ${(mb / (best / 1000)).toFixed(0)} MB/s`);
  return best;
}

const copyDump = buildCopyDump(targetMB * 1e6);
// Side by side, alternating: the COPY-line hashes (src/scan/copy-hash.ts) off, on the scanner's thread, and on
// the worker thread as a scan does it (copy-hash-worker.ts; the time until every hash is known, as finish() waits).
let inline = Infinity;
let offThread = Infinity;
let without = Infinity;
for (let i = 0; i < 2; i++) {
  without = Math.min(without, measure('COPY-heavy dump, COPY lines not hashed', copyDump, 3, false));
  inline = Math.min(inline, measure('COPY-heavy dump, COPY lines hashed on the scanner thread', copyDump, 3, true, Infinity));
  offThread = Math.min(offThread, measure('COPY-heavy dump, COPY lines hashed on the worker (default)', copyDump, 3, true));
}
console.log(`  hashing on the scanner thread: ${(inline / without).toFixed(2)}x the scan without hashes; on the worker: ${(offThread / without).toFixed(2)}x (wall, the worker's CPU beside it)`);
const insertDump = buildInsertDump(Math.min(targetMB, 20) * 1e6);
measure('INSERT-style dump (SQL lexer)', insertDump, 3);
