import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { psql, scratchDir, startPagila, urlOf } from '../helpers/clusters.js';
import { check, drill, failed } from './helpers.js';

test('writes on the source during the dump (inserts, updates, deletes in a loop): PASS with equal hashes and counts', async () => {
  await using dir = await scratchDir();
  const source = await startPagila(dir.path);
  try {
    const env = source.env('pagila');
    const writer = new pg.Client({ host: env.PGHOST, port: Number(env.PGPORT), user: env.PGUSER, database: 'pagila' });
    await writer.connect();
    let stop = false;
    let rounds = 0;
    const loop = (async () => {
      while (!stop) {
        await writer.query(`INSERT INTO public.actor (first_name, last_name) VALUES ('WRITER', 'ROUND ${rounds}')`);
        await writer.query('UPDATE public.film SET rental_rate = rental_rate + 0.01 WHERE film_id = 1 + ($1::int % 1000)', [rounds]);
        await writer.query('DELETE FROM public.film_actor WHERE ctid = (SELECT ctid FROM public.film_actor LIMIT 1)');
        await writer.query("INSERT INTO public.category (name) VALUES ('c' || $1::int)", [rounds]);
        rounds++;
      }
    })();
    try {
      while (rounds < 20) await new Promise((r) => setTimeout(r, 10));
      const { report } = await drill(urlOf(source, 'pagila'), dir.path, 'concurrent', undefined, undefined, { source: { witness: 'counts' } });
      const roundsAtEnd = rounds;
      stop = true;
      await loop;
      assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
      for (const t of report.tables) {
        assert.equal(t.restored_rows, t.source_rows, `${t.schema}.${t.name}`);
        assert.equal(t.dump_rows, t.source_rows, `${t.schema}.${t.name}: the dump holds the snapshot's rows`);
        assert.equal(t.restored_copy_hash, t.dump_hash, `${t.schema}.${t.name}`);
      }
      // The snapshot cut through the stream of writes: some landed before it, some after.
      const actorsInSnapshot = report.tables.find((t) => t.name === 'actor')!.source_rows!;
      const actorsNow = Number((await psql(source, 'pagila', { sql: 'SELECT count(*) FROM public.actor' })).trim());
      assert.ok(actorsInSnapshot > 200, `no write before the snapshot (${actorsInSnapshot})`);
      assert.ok(actorsNow > actorsInSnapshot, `no write after the snapshot (${actorsNow} vs ${actorsInSnapshot})`);
      assert.ok(roundsAtEnd > 20);
      assert.equal(check(report, 'fidelity.catalog').status, 'pass');
      assert.equal(report.production_untouched, true);
    } finally {
      stop = true;
      await loop.catch(() => {});
      await writer.end();
    }
  } finally {
    await source.stop();
  }
});
