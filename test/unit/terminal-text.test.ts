import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terminalText } from '../../src/terminal-text.js';
import { fileLogger } from '../../src/logger.js';

test('terminal text: escape sequences and other controls shown, line feeds and tabs kept', () => {
  // A table named with an escape sequence that would clear the screen and set the terminal's title.
  const hostile = 'public.\u001b[2J\u001b]0;owned\u0007t\rx\u009b1m';
  const shown = terminalText(`warning: table ${hostile} skipped\n\tnext line`);
  // eslint-disable-next-line no-control-regex -- the characters that must be gone
  assert.doesNotMatch(shown, /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/);
  assert.equal(shown, 'warning: table public.\u241b[2J\u241b]0;owned\u2407t\u240dx\uFFFD1m skipped\n\tnext line');
  assert.equal(terminalText(shown), shown, 'idempotent');
  assert.equal(terminalText('plain ascii, ünïcödé, 🐘'), 'plain ascii, ünïcödé, 🐘');
});

test('run.log: a hostile name is written with its controls shown', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-tt-'));
  try {
    const log = fileLogger(join(dir, 'run.log'));
    log.warn('count of "\u001b[31mred" failed');
    const text = await readFile(join(dir, 'run.log'), 'utf8');
    assert.match(text, / WARN count of "\u241b\[31mred" failed\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
