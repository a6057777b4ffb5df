/**
 * The report's production footprint (`production.footprint`): what the drill cost the source, beside what pg_dump
 * alone cost — CPU of each session on the source where the server runs on this host, and what the source's own
 * statistics say was read. Built by src/source/footprint.ts.
 */
import { z } from 'zod';

const Counters = z.object({
  calls: z.number(),
  rows: z.number(),
  shared_blks_read: z.number(),
  shared_blks_hit: z.number(),
  total_exec_time_ms: z.number(),
});

export const FootprintSchema = z.object({
  summary: z.string().describe('one line: the drill against pg_dump alone, and what it rests on'),
  cpu: z.object({
    measurable: z.boolean().describe("true when the source's backends are processes of this host that pgdrill can read (/proc/PID/stat)"),
    detail: z.string().describe('how the CPU was measured, or why it was not'),
    sample_ms: z.number().describe("interval of the /proc readings: a session's last interval before it ended is not counted"),
    drill_ms: z.number().nullable().describe("CPU (user + system) of every session of the drill on the source: pgdrill's and the tools'"),
    pg_dump_ms: z.number().nullable().describe("CPU of pg_dump's session(s) that copied the data: what pg_dump alone costs"),
    ratio_to_pg_dump: z.number().nullable().describe('drill_ms / pg_dump_ms'),
  }),
  sessions: z.array(z.object({
    pid: z.number().describe('backend pid on the source'),
    by: z.enum(['pgdrill', 'pg_dump']).describe("'pg_dump': a session of pg_dump or pg_dumpall, found by application_name pgdrill"),
    what: z.string(),
    cpu_ms: z.number().nullable().describe('null: not measurable, or the session ended before it was first read'),
  })),
  statements: z.object({
    available: z.boolean(),
    detail: z.string(),
    groups: z.array(Counters.extend({ group: z.enum(['copy', 'scans', 'other']), label: z.string() })),
  }).describe("pg_stat_statements deltas of the drill's role in the drill's database, by who sends each statement"),
  database: z.object({
    scope: z.string(),
    tup_returned: z.number(),
    tup_fetched: z.number(),
    blks_read: z.number(),
    blks_hit: z.number(),
    bytes_read: z.number().describe('blks_read × block_size: read from outside shared buffers'),
  }).nullable().describe("pg_stat_database deltas of the drill's database: every session's, not only the drill's"),
});
export type Footprint = z.infer<typeof FootprintSchema>;
