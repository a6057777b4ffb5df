/**
 * Writes docs/reference/config.md from the zod config schema (through its JSON Schema), so that the reference of
 * every config key cannot drift from what pgdrill accepts. `npm run schema` runs it; test/unit/schema.test.ts fails
 * when the checked-in file is not current.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigSchema } from '../src/config/schema.js';

interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly pattern?: string;
}

/** A short type for the table: `string`, `integer ≥ 1`, `"plain" | "custom"`, `list of string`, … */
function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  const t = typeof s.type === 'string' ? s.type : (s.type?.join(' or ') ?? 'any');
  const bounds = [
    s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : null,
    s.minimum !== undefined && Math.abs(s.minimum) < 1e15 ? `≥ ${s.minimum}` : null,
    s.maximum !== undefined && Math.abs(s.maximum) < 1e15 ? `≤ ${s.maximum}` : null,
    s.pattern ? `matching \`${s.pattern}\`` : null,
  ].filter(Boolean);
  return bounds.length ? `${t} ${bounds.join(', ')}` : t;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(s: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, p] of Object.entries(s.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const def = p.default === undefined ? '' : `\`${JSON.stringify(p.default)}\``;
    const nested = p.properties ? p : p.anyOf?.find((a) => a.properties);
    out.push(`| \`${path}\` | ${cell(nested ? 'section' : typeOf(p))} | ${cell(def)} | ${cell(p.description ?? '')} |`);
    if (nested) rows(nested, path, out);
    else if (p.type === 'array' && p.items?.properties) rows(p.items, `${path}[]`, out);
  }
}

/** The reference page's text. */
export function configReference(): string {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input' }) as JsonSchema;
  const out = [
    '# Config reference',
    '',
    'Generated from the config schema (`src/config/schema.ts`) by `npm run schema`; do not edit by hand. Unknown keys',
    'are refused (exit 2), and every problem is reported at once with its path. How to use the file: [Config](../config.md).',
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
  ];
  rows(schema, '', out);
  return out.join('\n') + '\n';
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const file = resolve(import.meta.dirname, '../docs/reference/config.md');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, configReference());
  console.log(`wrote ${file}`);
}
