import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { emptyReport } from '../../src/pipeline/report/empty-report.js';
import { renderHtml } from '../../src/report/html.js';
import { escapeHtml, html } from '../../src/report/html/escape.js';
import { renderers } from '../../src/report/write.js';
import { PhysicalSchema, type Report } from '../../src/report/model.js';
import { failReport, HOSTILE, passReport } from '../helpers/sample-report.js';
import { ARTIFACTS, launchOrSkip, openFile } from '../helpers/browser.js';

/**
 * A physical drill's section (as `verify` of a pg_basebackup writes it) on a sample report; `fatal` is the server
 * log's FATAL line of a failed recovery — text from the backup's server, so the page must escape it.
 */
function withPhysical(r: Report, fatal: string | null = null): Report {
  const physical = PhysicalSchema.parse({
    layout: 'tar', manifest: true, wal_dir: '/backups/wal', start_lsn: '0/2000028', start_timeline: 1, backup_end_lsn: '0/2000100',
    target: 'xid:742', target_timeline: 'latest',
    reached: {
      lsn: fatal ? null : '0/5000148', last_commit_time: fatal ? null : '2026-11-27 23:30:02.120000+00', stop_line: fatal ? null : 'recovery stopping after commit of transaction 742, time 2026-11-27 23:30:02.12+00',
      consistent_at: '0/2000100', redo_done_at: fatal ? '0/4FFFF80' : '0/5000148', new_timeline: fatal ? null : 3, fatal,
    },
    wal: { staged_segments: 4, history_files: 1, restored_segments: 3, replayed_bytes: 50_331_936, replay_ms: 1_500, replay_bytes_per_s: 33_554_624 },
    isolation: { system_identifier: '7580000000000000001', settings: { archive_mode: 'off', listen_addresses: '' }, overridden: ['archive_command'], preload_dropped: ['pg_cron'], tcp_sockets: 0 },
    data_checksums: true,
    databases: [{ name: 'bench', connected: true, tables: 5, rows: 100_012, error: null }],
    timings: { copy_ms: 2_100, recovery_ms: 1_500, checks_ms: 900, rto_ms: 4_500 },
  });
  return { ...r, physical };
}

test('escapeHtml and the html tag escape every interpolation', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const nested = html`<b>${'<i>'}</b>`;
  assert.equal(html`<p>${nested}${['<', html`<br>`]}${null}${false}${3}</p>`.value, '<p><b>&lt;i&gt;</b>&lt;<br>3</p>');
});

test('report.html is registered beside report.json and report.md', () => {
  assert.equal(renderers.find((r) => r.file === 'report.html')?.render, renderHtml);
  assert.ok(renderers.some((r) => r.file === 'report.json') && renderers.some((r) => r.file === 'report.md'));
});

test('hostile report text is escaped everywhere, and the page references nothing outside itself', () => {
  const page = renderHtml(withPhysical(failReport(), HOSTILE));
  assert.match(page, /<tr class="is-fail"><th scope="row">recovery failed<\/th><td><code>&lt;script&gt;alert\(1\)/);
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /<img/i);
  assert.doesNotMatch(page, /<\/svg><\/svg>|<\/style><\/svg>/);
  assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(page, /onerror=&quot;alert\(2\)&quot;/);
  // The only URL is the SVG namespace; no link, import, url() or src.
  assert.deepEqual([...new Set(page.match(/https?:\/\/[^\s"'<>)]+/g))], ['http://www.w3.org/2000/svg']);
  assert.doesNotMatch(page, /<link|@import|url\(|<[a-z][^>]*\s(src|href)=/i);
  assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
});

test('the page is semantic: landmarks, captions on every table, scoped headers, UTC times, units', () => {
  const page = renderHtml(withPhysical(passReport()));
  assert.match(page, /<h2 id="physical">Physical recovery<\/h2>/);
  assert.match(page, /48\.0 MiB <span class="muted">\(50,331,936 bytes\)<\/span> at 32\.0 MiB <span class="muted">\(33,554,624 bytes\)<\/span>\/s/);
  for (const tag of ['<header', '<main', '<section', '<footer', '<html lang="en"']) assert.ok(page.includes(tag), tag);
  assert.equal((page.match(/<table[\s>]/g) ?? []).length, (page.match(/<caption>/g) ?? []).length);
  assert.deepEqual((page.match(/<th(?=[\s>])[^>]*>/g) ?? []).filter((th) => !th.includes('scope=')), [], 'every th has a scope');
  assert.match(page, /<time datetime="2026-11-27T23:33:17.000Z">2026-11-27 23:33:17 UTC<\/time>/);
  assert.match(page, /636\.5 MiB <span class="muted">\(667,414,820 bytes\)<\/span>/);
  assert.match(page, /<h2 id="verdict" class="word">PASS<\/h2>/);
});

for (const [name, make] of [['pass', passReport], ['fail', failReport]] as const) {
  test(`report.html (${name}) in headless Chromium: verdict and failing checks visible, no script, no request`, async (t) => {
    const browser = await launchOrSkip(t);
    if (!browser) return;
    try {
      // The fail variant is a physical drill whose recovery failed; the pass one a physical drill that reached xid 742.
      const report = withPhysical(make(), name === 'fail' ? `FATAL:  recovery ended before configured recovery target was reached ${HOSTILE}` : null);
      const file = join(ARTIFACTS, `report-${name}.html`);
      await writeFile(file, renderHtml(report));
      const { page, log } = await openFile(browser, file);
      const verdict = page.locator('#verdict');
      assert.ok(await verdict.isVisible());
      assert.match((await verdict.textContent()) ?? '', new RegExp(`^${report.status}`));
      const failing = report.checks.filter((c) => c.status === 'fail');
      assert.equal(failing.length > 0, name === 'fail');
      for (const c of failing) assert.ok(await page.locator('.verdict li code', { hasText: c.name }).first().isVisible(), c.name);
      // Failing checks come first in the banner.
      const bannerNames = await page.locator('.verdict li code').allTextContents();
      assert.deepEqual(bannerNames.slice(0, failing.length), failing.map((c) => c.name));
      const dom = await page.evaluate(() => ({
        scripts: document.querySelectorAll('script').length,
        imgs: document.querySelectorAll('img').length,
        handlers: Array.from(document.querySelectorAll('*')).filter((e) => Array.from(e.attributes).some((a) => a.name.startsWith('on'))).length,
      }));
      assert.deepEqual(dom, { scripts: 0, imgs: 0, handlers: 0 });
      if (name === 'fail') assert.ok(await page.getByText(HOSTILE.slice(0, 25)).first().isVisible(), 'hostile text shown as text');
      assert.ok(await page.locator('svg[role="img"] rect.bar').first().isVisible(), 'timeline drawn');
      const physical = page.locator('section[aria-labelledby="physical"]');
      assert.ok(await physical.isVisible(), 'the physical section is shown');
      const text = (await physical.textContent()) ?? '';
      for (const want of ['xid:742', 'RTO', '4.5 s', 'archive_mode=\'off\'', 'TCP sockets held', name === 'fail' ? 'recovery ended before configured recovery target was reached' : 'recovery stopping after commit of transaction 742']) {
        assert.ok(text.includes(want), `${want} in the physical section: ${text}`);
      }
      await page.screenshot({ path: join(ARTIFACTS, `report-${name}.png`), fullPage: true });
      await page.emulateMedia({ media: 'print' });
      await page.screenshot({ path: join(ARTIFACTS, `report-${name}-print.png`), fullPage: true });
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      assert.ok(pdf.length > 10_000, 'prints to PDF');
      await writeFile(join(ARTIFACTS, `report-${name}.pdf`), pdf);
      assert.deepEqual(log.consoleErrors, []);
      assert.deepEqual(log.requests, []);
      assert.deepEqual(log.dialogs, []);
    } finally {
      await browser.close();
    }
  });
}

test('a report whose stages never ran (everything null or empty) still renders every section', () => {
  const r = emptyReport('verify', '/tmp/drills/x-20261127T000000Z', new Date('2026-11-27T00:00:00Z'), ['pgdrill', 'verify', 'x.dump'], (s) => s, {});
  const page = renderHtml({ ...r, interrupted: true });
  assert.match(page, /<h2 id="verdict" class="word">FAIL — interrupted<\/h2>/);
  for (const text of ['No stage ran.', 'No check ran.', 'No table was compared.', 'The restore did not run.', 'No statement was sent to a source']) assert.ok(page.includes(text), text);
});
