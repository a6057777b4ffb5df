/**
 * `notify.webhook.url_env`: a webhook's URL (and the token in it) read from the environment when the drill starts,
 * so that it is in no config file and no fleet queue job; and no URL, its token or `user:password@`, in any message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { validateFleet } from '../../src/fleet/fleet-file.js';
import { drillCommand } from '../../src/fleet/drill-child.js';
import type { DrillJobData } from '../../src/fleet/queue.js';
import { resolveWebhookUrl, scrubWebhookUrls, sendWebhook } from '../../src/outputs/webhook.js';
import { assertOutputPaths } from '../../src/outputs/publish.js';

const SECRET = 'T0KEN-s3cret';

const noSecret = (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && !e.message.includes(SECRET) && !JSON.stringify(e.problems).includes(SECRET);

test('url_env: exactly one of url and url_env; a variable name; url with user:password@ refused without quoting it', () => {
  const w = (webhook: Record<string, unknown>) => ConfigSchema.safeParse({ notify: { webhook } });
  assert.equal(w({ url_env: 'PGDRILL_WEBHOOK_URL' }).success, true);
  assert.equal(w({ url: 'https://hooks.example.com/x' }).success, true);
  const both = w({ url: 'https://hooks.example.com/x', url_env: 'PGDRILL_WEBHOOK_URL' });
  assert.equal(both.success, false);
  assert.match(JSON.stringify(both.error?.issues), /exactly one of url and url_env/);
  assert.equal(w({ on: 'always' }).success, false, 'neither');
  assert.equal(w({ url_env: 'PGDRILL WEBHOOK' }).success, false);
  assert.equal(w({ url_env: '$PGDRILL_WEBHOOK' }).success, false);
  assert.throws(() => validateConfig({ notify: { webhook: { url: `https://bot:${SECRET}@hooks.example.com/x` } } }), (e: unknown) => noSecret(e) && /user:password@/.test(JSON.stringify((e as ConfigError).problems)));
  // Legitimate but odd: an `@` in the path or query is not user info.
  assert.equal(w({ url: `https://hooks.example.com/to/ops@example.com?token=${SECRET}` }).success, true);
});

test('resolveWebhookUrl: the variable, read when the drill starts; unset, empty or not a URL is exit 2 naming the variable, never its value', () => {
  const url = `https://hooks.example.com/services/${SECRET}?token=${SECRET}`;
  assert.equal(resolveWebhookUrl({ url_env: 'PGDRILL_WEBHOOK_URL' }, { PGDRILL_WEBHOOK_URL: url }), url);
  assert.equal(resolveWebhookUrl({ url }, {}), url, 'url as given');
  assert.throws(() => resolveWebhookUrl({ url_env: 'PGDRILL_WEBHOOK_URL' }, {}), (e: unknown) => noSecret(e) && /PGDRILL_WEBHOOK_URL, which is not set/.test((e as Error).message));
  assert.throws(() => resolveWebhookUrl({ url_env: 'PGDRILL_WEBHOOK_URL' }, { PGDRILL_WEBHOOK_URL: ' ' }), /which is empty/);
  assert.throws(() => resolveWebhookUrl({ url_env: 'H' }, { H: `ftp://x/${SECRET}` }), (e: unknown) => noSecret(e) && /not an http/.test((e as Error).message));
  assert.throws(() => resolveWebhookUrl({ url_env: 'H' }, { H: `https://u:${SECRET}@h/x` }), (e: unknown) => noSecret(e) && /user:password@/.test((e as Error).message));
  assert.throws(() => resolveWebhookUrl({ url_env: 'H' }, { H: `https://[::1/${SECRET}` }), (e: unknown) => noSecret(e) && /not a valid URL/.test((e as Error).message));
});

test('a drill checks url_env before it starts (exit 2), as it does --junit and --metrics', async () => {
  const config = validateConfig({ notify: { webhook: { url_env: 'PGDRILL_TEST_UNSET_HOOK' } } });
  delete process.env.PGDRILL_TEST_UNSET_HOOK;
  await assert.rejects(assertOutputPaths({ webhook: config.notify?.webhook }), (e: unknown) => e instanceof ConfigError && /PGDRILL_TEST_UNSET_HOOK/.test(e.message));
  await assertOutputPaths({ webhook: validateConfig({ notify: { webhook: { url: 'https://hooks.example.com/x' } } }).notify?.webhook });
});

test("fetch's own errors quote the URL, token and user info: sendWebhook never passes them on", async () => {
  // fetch refuses user info with the whole URL in its message (a library caller can give sendWebhook any URL).
  const r = await sendWebhook(`http://bot:${SECRET}@127.0.0.1:9/hooks/${SECRET}?token=${SECRET}`, {}, { retries: 0 });
  assert.equal(r.ok, false);
  assert.ok(!JSON.stringify(r).includes(SECRET), JSON.stringify(r));
  assert.match(r.error!, /credentials: http:\/\/127\.0\.0\.1:9\/…/);
  const bad = await sendWebhook(`http://exa mple/${SECRET}`, {}, { retries: 0 });
  assert.ok(!JSON.stringify(bad).includes(SECRET), JSON.stringify(bad));
  assert.equal(scrubWebhookUrls(`failed: https://h.example.com:8443/a/${SECRET}?t=${SECRET}, again`), 'failed: https://h.example.com:8443/…, again');
});

test('a fleet: url_env must name a PGDRILL_ variable, the only ones a worker passes its drills; the queue job holds the name, not the URL', async () => {
  const fleet = (url_env: string, where: 'fleet' | 'entry') => ({
    ...(where === 'fleet' ? { notify: { webhook: { url_env } } } : {}),
    databases: [{ name: 'app', source: 'postgresql://drill@db1.example.com/app', ...(where === 'entry' ? { config: { notify: { webhook: { url_env } } } } : {}) }],
  });
  for (const where of ['fleet', 'entry'] as const) {
    const f = await validateFleet(fleet('PGDRILL_HOOK_OPS2', where));
    const hook = f.databases[0]!.config.notify?.webhook;
    assert.equal(hook?.url_env, 'PGDRILL_HOOK_OPS2');
    assert.equal(hook?.url, undefined);
    await assert.rejects(validateFleet(fleet('SLACK_URL', where)), (e: unknown) => e instanceof ConfigError && /SLACK_URL would not reach the drill/.test(JSON.stringify(e.problems)));
    await assert.rejects(validateFleet(fleet('PGDRILL_hook', where)), ConfigError, 'lower case is not passed on');
    await assert.rejects(validateFleet(fleet('PGDRILL_STATE_DIR', where)), ConfigError, 'the worker sets that one itself');
  }
  // ...and the worker passes it on.
  const job: DrillJobData = { database: 'app', kind: 'run', source: 'postgresql://drill@db1/app', deep: false, maxDurationMs: 1000, leaseSeconds: 30, due: '2026-01-01T00:00:00Z', config: { notify: { webhook: { url_env: 'PGDRILL_HOOK_OPS2' } } } };
  const { args, env } = drillCommand(job, '/s/c.json', { pgdrillBin: '/p.mjs', outDir: '/o', stateDir: '/s', signal: new AbortController().signal, env: { PGDRILL_HOOK_OPS2: `https://h/${SECRET}`, SLACK_URL: 'x' } });
  assert.equal(env.PGDRILL_HOOK_OPS2, `https://h/${SECRET}`);
  assert.equal(env.SLACK_URL, undefined);
  assert.ok(!args.join(' ').includes(SECRET), 'never in argv');
});
