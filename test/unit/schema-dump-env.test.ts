/**
 * The restored copy's schema-only dump prints deparsed constants (timestamptz DEFAULTs, partition bounds, bytea and
 * money literals) under the settings the other side's text was written under: the main dump's session when the
 * source's schema comes from the dump itself, else UTC as both schema-only dumps are.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { schemaDumpEnv } from '../../src/fidelity/round-trip.js';

test('unknown session: TimeZone UTC, PGOPTIONS untouched', () => {
  assert.deepEqual(schemaDumpEnv({ PGHOST: '/s', PGOPTIONS: '-c event_triggers=off' }, null), { PGHOST: '/s', PGOPTIONS: '-c event_triggers=off', PGTZ: 'UTC' });
  assert.deepEqual(schemaDumpEnv({ PGHOST: '/s' }, undefined), { PGHOST: '/s', PGTZ: 'UTC' });
});

test("the main dump's session: its TimeZone, bytea_output and lc_monetary, after the options already given", () => {
  const env = schemaDumpEnv({ PGOPTIONS: '-c event_triggers=off' }, { timeZone: 'Pacific/Chatham', byteaOutput: 'escape', lcMonetary: 'de_DE.UTF-8' });
  assert.equal(env.PGTZ, 'Pacific/Chatham');
  assert.equal(env.PGOPTIONS, '-c event_triggers=off -c bytea_output=escape -c lc_monetary=de_DE.UTF-8');
});

test('a value with a space or backslash is escaped as libpq reads PGOPTIONS', () => {
  const env = schemaDumpEnv({}, { timeZone: null, byteaOutput: null, lcMonetary: 'English_United States.1252' });
  assert.equal(env.PGOPTIONS, '-c lc_monetary=English_United\\ States.1252');
  assert.equal(env.PGTZ, 'UTC');
});
