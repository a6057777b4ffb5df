/** Writes schema/pgdrill.config.schema.json, schema/pgdrill.fleet.schema.json and schema/report.schema.json from the zod schemas. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigSchema } from '../src/config/schema.js';
import { ReportSchema } from '../src/report/model.js';
import { FleetSchema } from '../src/fleet/fleet-file.js';

export function generatedSchemas(): Record<string, string> {
  return {
    'pgdrill.config.schema.json': JSON.stringify(z.toJSONSchema(ConfigSchema, { io: 'input' }), null, 2) + '\n',
    'pgdrill.fleet.schema.json': JSON.stringify(z.toJSONSchema(FleetSchema, { io: 'input' }), null, 2) + '\n',
    'report.schema.json': JSON.stringify(z.toJSONSchema(ReportSchema, { io: 'output' }), null, 2) + '\n',
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const dir = resolve(import.meta.dirname, '../schema');
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(generatedSchemas())) writeFileSync(resolve(dir, f), text);
  console.log(`wrote ${Object.keys(generatedSchemas()).join(', ')} to ${dir}`);
}
