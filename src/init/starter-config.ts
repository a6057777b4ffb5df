/**
 * The starter config `pgdrill init` writes: the source's identity pinned, its facts as comments, and expectations
 * to enable. Pure: facts in, YAML text out. Every name that came from the source is written as a double-quoted
 * (JSON) scalar, in comments too, so that no quote, colon, `#` or newline in a name can change the YAML.
 */
import { showBytes } from '../pg/server-bytes.js';
import type { SourceFacts } from './source-facts.js';
import { describeLocale } from '../restore/database-locale.js';

/** Options of `renderStarterConfig`. */
export interface StarterConfigOptions {
  /** The source URL to write as source.url (its password is removed); undefined: the PG* environment, no url. */
  readonly url?: string;
  /** When the config was written; default now. */
  readonly now?: Date;
}

/** The first line of the block of expectations to enable, in the config `renderStarterConfig` writes. */
export const EXPECT_BLOCK_START = '# expect:';

const q = (s: string) => JSON.stringify(s);

/** A libpq URL without its password (user:password@ and ?password=): the config holds no secret. */
export function urlWithoutPassword(url: string): string {
  return url
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1@')
    .replace(/([?&])password=[^&#]*(&?)/gi, (_, lead: string, tail: string) => (tail ? lead : ''))
    .replace(/[?&]$/, '');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Render the starter config for a source. The result validates against the config schema as it is. */
export function renderStarterConfig(facts: SourceFacts, opts: StarterConfigOptions = {}): string {
  const id = facts.identity;
  const c = (k: string) => facts.counts[k] ?? 0;
  const roleLine = (r: SourceFacts['roles'][number]) =>
    `${q(r.name)} (${[r.superuser ? 'superuser' : '', r.canLogin ? 'login' : 'no login', r.owns ? `owns ${r.owns}` : ''].filter(Boolean).join(', ')})`;
  const out: string[] = [
    `# pgdrill config for database ${q(id.database)}, written by \`pgdrill init\` at ${(opts.now ?? new Date()).toISOString()}`,
    `# from ${q(facts.redacted)}. Read it, then: pgdrill run --config FILE  (every key: docs/config.md)`,
    '#',
    '# The source as init found it:',
    `#   cluster    system_identifier ${id.systemIdentifier}, PostgreSQL ${q(id.serverVersionText)}, ${id.inRecovery ? 'a standby (in recovery)' : 'a primary'}`,
    `#   database   ${q(id.database)}, encoding ${q(facts.encoding)}, locale ${q(describeLocale(facts.locale))}`,
    `#   objects    ${plural(c('table'), 'table')}, ${plural(c('view'), 'view')}, ${plural(c('materialized_view'), 'materialized view')}, ` +
      `${plural(c('sequence'), 'sequence')}, ${c('function') + c('procedure')} functions and procedures, ` +
      `${plural(c('schema'), 'schema')} besides public, ${plural(c('extension'), 'extension')}`,
    `#   connected  as ${q(id.user)}${id.isSuperuser ? ' — a superuser: a drill needs only a role that can read; see docs/safety.md (least privilege)' : ''}`,
    `#   roles      ${facts.roles.length ? '' : '(none besides pg_*)'}`,
  ];
  const roles = facts.roles.map(roleLine);
  if (roles.length) {
    out.pop();
    for (let i = 0; i < roles.length; i += 4) out.push(`#   ${i === 0 ? 'roles      ' : '           '}${roles.slice(i, i + 4).join(', ')}`);
  }
  out.push(
    '',
    'source:',
  );
  if (opts.url) {
    out.push(
      '  # No password here: give it in PGPASSWORD or ~/.pgpass. `pgdrill run --source URL` overrides this url.',
      `  url: ${q(urlWithoutPassword(opts.url))}`,
    );
  } else {
    out.push('  # No url: `pgdrill run` connects as libpq does from the PG* environment (PGHOST, PGUSER, …), or --source URL.');
  }
  out.push(
    '  # The pins: the drill aborts (exit 3) before it does anything unless the source is this cluster and this',
    '  # database — a config aimed at the wrong server (a restored copy, a replica promoted elsewhere) stops there.',
    '  # After a planned change of cluster (pg_upgrade, a rebuilt server) run `pgdrill init` again for the new value.',
    `  system_identifier: ${q(id.systemIdentifier)}`,
    `  database: ${q(id.database)}`,
    '',
    'backup:',
    '  format: plain  # plain, custom or directory (with jobs: N, a parallel dump and restore)',
    '',
    '# Where the run directories go (report, dump, log); default ./drills, relative to the working directory.',
    '# out: /var/lib/pgdrill/drills',
    '',
    '# What must be in the dump. With no `expect` section, as here, every table, view, materialized view, sequence,',
    '# function, type, schema and extension of the source must be in it: the strongest check, and it follows the',
    '# source as it changes. An `expect` section replaces that comparison with its own rules. Uncomment the block to',
    '# pin what init found, whatever later happens on the source (counts are exact: a new table then needs an edit).',
    EXPECT_BLOCK_START,
    '#   objects:',
  );
  const skipped: string[] = [];
  for (const s of facts.schemas) {
    // Only * and ? are glob characters in an expectation; the dump writes newlines in names as spaces.
    if (/[*?\r\n]/.test(s.schema)) {
      skipped.push(s.schema);
      continue;
    }
    if (s.tables) out.push(`#     - { type: table, schema: ${q(s.schema)}, count: ${s.tables} }`);
    if (s.views) out.push(`#     - { type: view, schema: ${q(s.schema)}, count: ${s.views} }`);
    if (s.materializedViews) out.push(`#     - { type: materialized_view, schema: ${q(s.schema)}, count: ${s.materializedViews} }`);
  }
  for (const s of skipped) out.push(`#     # schema ${q(s)}: not listed (its name holds * ? or a newline, which a pattern cannot match exactly)`);
  const owners = facts.roles.filter((r) => r.owns > 0).map((r) => q(r.name));
  out.push(`#   roles: [${owners.join(', ')}]  # owners of the objects: each must own something in the dump`);
  out.push(
    '#   # grants: a role that must hold no write privilege, e.g. a reporting role:',
    '#   # grants:',
    '#   #   - { role: "reporting", no_write: true }',
    '',
  );
  // names from a SQL_ASCII source: bytes that are not UTF-8 as \xNN, as reports and the inventory write them
  return showBytes(out.join('\n'));
}
