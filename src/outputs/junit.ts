/**
 * JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters, ...): one test suite per drill, one test
 * case per check. `fail` → `<failure>`, `skip` → `<skipped>`, `warn` → a passing case whose `<system-out>` says
 * WARN. Renders the report model; computes nothing.
 */
import type { Check, Report } from '../report/model.js';

/**
 * Escape text for XML 1.0 attributes and content. Characters XML 1.0 forbids (most C0 controls, lone surrogates,
 * U+FFFE/U+FFFF) are replaced by U+FFFD: a hostile dump's text in a detail must not make the file unparseable.
 * Tab, LF and CR are written as character references so that they survive attribute-value normalisation.
 */
export function xmlEscape(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex -- the characters XML 1.0 cannot carry, replaced
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    // As character references: a parser normalises raw ones (tab and line breaks to spaces in an attribute, CR to LF
    // in content), and a database or check named with them must read back as it is.
    .replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function seconds(ms: number | null | undefined): string {
  return ((ms ?? 0) / 1000).toFixed(3);
}

function evidenceText(c: Check): string {
  if (!c.evidence || !Object.keys(c.evidence).length) return '';
  const json = JSON.stringify(c.evidence, null, 2);
  return `\n\nevidence:\n${json.length > 8000 ? `${json.slice(0, 8000)}\n…` : json}`;
}

function testcase(r: Report, c: Check): string {
  const attrs = `classname="${xmlEscape(`pgdrill.${r.kind}.${c.stage}`)}" name="${xmlEscape(c.name)}" time="0.000"`;
  const message = xmlEscape(c.detail.length > 1000 ? `${c.detail.slice(0, 999)}…` : c.detail);
  switch (c.status) {
    case 'fail':
      return `    <testcase ${attrs}>\n      <failure message="${message}" type="${xmlEscape(c.name)}">${xmlEscape(c.detail + evidenceText(c))}</failure>\n    </testcase>`;
    case 'skip':
      return `    <testcase ${attrs}>\n      <skipped message="${message}"/>\n    </testcase>`;
    case 'warn':
      return `    <testcase ${attrs}>\n      <system-out>${xmlEscape(`WARN: ${c.detail}`)}</system-out>\n    </testcase>`;
    default:
      return `    <testcase ${attrs}>\n      <system-out>${xmlEscape(c.detail)}</system-out>\n    </testcase>`;
  }
}

/** The suite's name: `pgdrill <kind> <database>` (the artefact's path when there is no database). */
export function suiteName(r: Report): string {
  return `pgdrill ${r.kind} ${r.source.database ?? r.run.id.replace(/-\d{8}T\d{6}Z(-\d+)?$/, '')}`;
}

/** Render one drill as JUnit XML. */
export function renderJunit(r: Report): string {
  const count = (s: Check['status']) => r.checks.filter((c) => c.status === s).length;
  const tests = r.checks.length;
  const failures = count('fail');
  const skipped = count('skip');
  const props: [string, string | number | boolean | null][] = [
    ['status', r.status], ['interrupted', r.interrupted], ['run_dir', r.run.dir], ['backup_path', r.backup.path],
    ['backup_sha256', r.backup.sha256], ['backup_size_bytes', r.backup.size_bytes], ['production_untouched', r.production_untouched],
    ['pgdrill_version', r.tool.version],
    // What the drill cost production (report.production.footprint), where measured.
    ['source_cpu_ms', r.production.footprint?.cpu.drill_ms ?? null], ['pg_dump_cpu_ms', r.production.footprint?.cpu.pg_dump_ms ?? null],
    ['source_cpu_ratio_to_pg_dump', r.production.footprint?.cpu.ratio_to_pg_dump ?? null], ['production_footprint', r.production.footprint?.summary ?? null],
  ];
  const suite = xmlEscape(suiteName(r));
  const common = `tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(r.run.duration_ms)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="pgdrill" ${common}>`,
    `  <testsuite name="${suite}" ${common} timestamp="${xmlEscape(r.run.started_at)}" hostname="${xmlEscape(r.run.host)}">`,
    '    <properties>',
    ...props.filter(([, v]) => v !== null).map(([k, v]) => `      <property name="${k}" value="${xmlEscape(String(v))}"/>`),
    '    </properties>',
    ...r.checks.map((c) => testcase(r, c)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
