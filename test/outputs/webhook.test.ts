import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import type { scratchDir } from '../helpers/clusters.js';
import { shopWithCutDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';
import { sendWebhook, type WebhookSummary } from '../../src/outputs/webhook.js';

/** A local endpoint on 127.0.0.1: answers each request with the next status of `statuses` (the last repeats); `hang` never answers. */
async function endpoint(statuses: number[] | 'hang'): Promise<{ url: string; bodies: unknown[]; close: () => Promise<void> }> {
  const bodies: unknown[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      if (statuses === 'hang') return;
      res.writeHead(statuses[Math.min(bodies.length - 1, statuses.length - 1)]!, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/T000/SECRET-TOKEN`, bodies,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A URL where nothing listens: connection refused. */
async function downUrl(): Promise<string> {
  const e = await endpoint([200]);
  await e.close();
  return e.url;
}

describe('sendWebhook', () => {
  test('delivers on the first 2xx', async () => {
    const e = await endpoint([204]);
    try {
      const r = await sendWebhook(e.url, { hello: 1 }, { retries: 3, backoffMs: 1 });
      assert.equal(r.ok, true);
      assert.equal(r.attempts.length, 1);
      assert.deepEqual(e.bodies, [{ hello: 1 }]);
      assert.equal(r.url, `${new URL(e.url).origin}/…`, 'the token in the path is never shown');
    } finally {
      await e.close();
    }
  });

  test('retries 5xx with backoff until it succeeds, within the bound', async () => {
    const e = await endpoint([503, 500, 200]);
    try {
      const r = await sendWebhook(e.url, {}, { retries: 5, backoffMs: 5 });
      assert.equal(r.ok, true);
      assert.deepEqual(r.attempts.map((a) => a.status), [503, 500, 200]);
    } finally {
      await e.close();
    }
  });

  test('gives up after retries + 1 attempts; a 4xx other than 408/429 is not retried', async () => {
    const e = await endpoint([500]);
    const f = await endpoint([404]);
    try {
      const r = await sendWebhook(e.url, {}, { retries: 2, backoffMs: 1 });
      assert.equal(r.ok, false);
      assert.equal(e.bodies.length, 3);
      assert.match(r.error!, /3 attempt\(s\), last: HTTP 500/);
      const n = await sendWebhook(f.url, {}, { retries: 2, backoffMs: 1 });
      assert.equal(n.ok, false);
      assert.equal(f.bodies.length, 1);
    } finally {
      await e.close();
      await f.close();
    }
  });

  test('a server that is down: connection refused, bounded attempts', async () => {
    const r = await sendWebhook(await downUrl(), {}, { retries: 2, backoffMs: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.attempts.length, 3);
    assert.ok(r.attempts.every((a) => a.status === null && a.error === 'ECONNREFUSED'), JSON.stringify(r.attempts));
  });

  test('a server that never answers: the timeout ends each attempt', async () => {
    const e = await endpoint('hang');
    try {
      const r = await sendWebhook(e.url, {}, { retries: 1, backoffMs: 1, timeoutMs: 150 });
      assert.equal(r.ok, false);
      assert.equal(r.attempts.length, 2);
      assert.equal(r.attempts[0]!.error, 'no answer within 150 ms');
    } finally {
      await e.close();
    }
  });
});

describe('notify.webhook in a drill: a JSON summary; a failing webhook never changes the verdict', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let dump: string;
  let cut: string;
  before(async () => {
    ({ dir, source, dump, cut } = await shopWithCutDump('CREATE TABLE item (id int PRIMARY KEY); INSERT INTO item SELECT generate_series(1, 100);', (text) => text.indexOf('COPY public.item')));
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  async function config(name: string, url: string, on: 'fail' | 'always'): Promise<string> {
    const p = join(dir.path, `${name}.yaml`);
    await writeFile(p, `notify:\n  webhook:\n    url: "${url}"\n    on: ${on}\n    timeout: 2s\n    retries: 2\n    backoff: 10ms\n`);
    return p;
  }

  test('on: always — a PASS is posted with its summary; on: fail — a PASS is not, a FAIL is', async () => {
    const e = await endpoint([200]);
    try {
      const ok = await runCli(['verify', dump, '--out', join(dir.path, 'out'), '--config', await config('always', e.url, 'always'), '--json']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(e.bodies.length, 1);
      const body = e.bodies[0] as WebhookSummary;
      assert.equal(body.status, 'PASS');
      assert.equal(body.kind, 'verify');
      assert.equal(body.database, 'shop');
      assert.equal(body.tool, 'pgdrill');
      assert.match(body.text, /^pgdrill PASS: verify of shop/);
      assert.equal(body.run_dir, ReportSchema.parse(JSON.parse(ok.stdout)).run.dir);

      const onFail = await config('onfail', e.url, 'fail');
      assert.equal((await runCli(['verify', dump, '--out', join(dir.path, 'out'), '--config', onFail])).code, 0);
      assert.equal(e.bodies.length, 1, 'a PASS is not posted with on: fail');
      assert.equal((await runCli(['verify', cut, '--out', join(dir.path, 'out'), '--config', onFail, '--database', 'shop'])).code, 1);
      assert.equal(e.bodies.length, 2);
      const fail = e.bodies[1] as WebhookSummary;
      assert.equal(fail.status, 'FAIL');
      assert.ok(fail.failed_checks.some((c) => c.name === 'backup.trailer'));
      assert.match(fail.text, /check\(s\) failed: backup\.trailer/);
    } finally {
      await e.close();
    }
  });

  test('a webhook that is down: logged and noted, exit code and verdict unchanged (PASS stays 0, FAIL stays 1)', async () => {
    const cfg = await config('down', await downUrl(), 'always');
    const ok = await runCli(['verify', dump, '--out', join(dir.path, 'out-down'), '--config', cfg, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const report = ReportSchema.parse(JSON.parse(ok.stdout));
    assert.equal(report.status, 'PASS');
    const note = report.notes.find((n) => n.id === 'webhook')!;
    assert.match(note.text, /webhook http:\/\/127\.0\.0\.1:\d+\/… failed after 3 attempt\(s\): ECONNREFUSED; the drill's verdict is unchanged/);
    assert.doesNotMatch(JSON.stringify(report), /SECRET-TOKEN/);
    assert.match(ok.stderr, /warning: webhook .* failed after 3 attempt/);
    const log = await readFile(join(report.run.dir, 'run.log'), 'utf8');
    assert.match(log, /WARN webhook .* failed after 3 attempt/);
    const saved = ReportSchema.parse(JSON.parse(await readFile(join(report.run.dir, 'report.json'), 'utf8')));
    assert.ok(saved.notes.some((n) => n.id === 'webhook'), 'the note is in report.json too');

    const bad = await runCli(['verify', cut, '--out', join(dir.path, 'out-down'), '--config', cfg, '--database', 'shop']);
    assert.equal(bad.code, 1);
  });

  test('text the restore raised: bounded in the reports, whole in run.log, absent from the webhook unless details: true', async () => {
    // A COPY row the restore rejects: PostgreSQL quotes the whole value in its error, as a hostile dump's raised rows would be.
    const tag = randomBytes(6).toString('hex');
    const marker = Array.from({ length: 400 }, (_, i) => `${tag}${String(i).padStart(4, '0')}`).join('');
    const text = await readFile(dump, 'utf8');
    const copy = text.indexOf('COPY public.item');
    const firstRow = text.indexOf('\n', copy) + 1;
    await mkdir(join(dir.path, 'leaky'), { recursive: true });
    const leaky = join(dir.path, 'leaky', 'shop.sql');
    await writeFile(leaky, `${text.slice(0, firstRow)}${marker}${text.slice(text.indexOf('\n', firstRow))}`);
    const e = await endpoint([200]);
    try {
      const plain = await config('leak-plain', e.url, 'fail');
      const r = await runCli(['verify', leaky, '--out', join(dir.path, 'out-leak'), '--config', plain, '--database', 'shop', '--json']);
      assert.equal(r.code, 1, r.stderr);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const err = report.restore!.errors.find((x) => x.message.includes(tag))!;
      assert.ok(err, JSON.stringify(report.restore!.errors));
      assert.ok(err.message.length < 600 && /more characters in run\.log\]$/.test(err.message), err.message.slice(-80));
      // Reports hold at most the bound of the raised text; run.log holds it whole.
      for (const f of ['report.json', 'report.md', 'report.html']) {
        const t = await readFile(join(report.run.dir, f), 'utf8');
        assert.ok(t.includes(marker.slice(0, 100)), `${f} shows the start of the error`);
        assert.ok(!t.includes(marker.slice(0, 501)), `${f} holds no more than 500 characters of it`);
      }
      assert.ok(!r.stdout.includes(marker.slice(0, 501)), '--json too');
      assert.ok((await readFile(join(report.run.dir, 'run.log'), 'utf8')).includes(marker), 'run.log keeps the whole error');
      // The webhook: names, verdicts and counts; nothing of the raised text.
      assert.equal(e.bodies.length, 1);
      const body = e.bodies[0] as WebhookSummary;
      assert.equal(body.status, 'FAIL');
      assert.ok(body.failed_checks.some((c) => c.name === 'restore.errors'));
      assert.ok(body.failed_checks.every((c) => !('detail' in c)));
      assert.ok(!JSON.stringify(body).includes(tag), 'no sandbox text in the webhook body by default');

      const detailed = join(dir.path, 'leak-details.yaml');
      await writeFile(detailed, `${await readFile(plain, 'utf8')}    details: true\n`);
      assert.equal((await runCli(['verify', leaky, '--out', join(dir.path, 'out-leak'), '--config', detailed, '--database', 'shop'])).code, 1);
      assert.equal(e.bodies.length, 2);
      const withDetails = e.bodies[1] as WebhookSummary;
      assert.ok(JSON.stringify(withDetails).includes(tag), 'details: true sends the details');
      assert.ok(withDetails.failed_checks.every((c) => typeof c.detail === 'string' && c.detail.length <= 500));
    } finally {
      await e.close();
    }
  });

  test('url_env: the URL from the environment, delivered; the token in no report, log or output; unset is exit 2 before the drill', async () => {
    const e = await endpoint([500, 200]);
    try {
      const p = join(dir.path, 'env.yaml');
      await writeFile(p, 'notify:\n  webhook:\n    url_env: PGDRILL_TEST_HOOK\n    on: always\n    retries: 2\n    backoff: 10ms\n');
      const out = join(dir.path, 'out-env');
      const r = await runCli(['verify', dump, '--out', out, '--config', p, '--json'], { env: { PGDRILL_TEST_HOOK: `${e.url}?token=SECRET-QUERY`, PGDRILL_DEBUG: '1' } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(e.bodies.length, 2, 'the 500 was retried');
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const seen = [r.stdout, r.stderr, ...(await Promise.all(['run.log', 'report.json', 'report.md', 'report.html'].map((f) => readFile(join(report.run.dir, f), 'utf8'))))];
      for (const t of seen) assert.ok(!/SECRET-TOKEN|SECRET-QUERY/.test(t), t.slice(0, 200));
      assert.match(seen[2]!, /webhook http:\/\/127\.0\.0\.1:\d+\/…: delivered \(attempt 2/);

      const unset = await runCli(['verify', dump, '--out', join(dir.path, 'out-unset'), '--config', p]);
      assert.equal(unset.code, 2, unset.stderr);
      assert.match(unset.stderr, /notify\.webhook\.url_env names the environment variable PGDRILL_TEST_HOOK, which is not set/);
      assert.deepEqual(await readdir(join(dir.path, 'out-unset')).catch(() => []), [], 'no run directory: refused before the drill');
    } finally {
      await e.close();
    }
  });

  test('a bad webhook URL in the config is a config error (exit 2)', async () => {
    const p = join(dir.path, 'bad.yaml');
    await writeFile(p, 'notify:\n  webhook:\n    url: "ftp://example"\n    surprise: 1\n');
    const r = await runCli(['verify', dump, '--out', join(dir.path, 'out-bad'), '--config', p]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /notify\.webhook\.url: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(r.stderr, /notify\.webhook: Unrecognized key: "surprise"/);
  });
});
