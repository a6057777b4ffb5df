/** Writing a report's renderings into the run directory (each written whole, then renamed: never half a report). */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from './model.js';
import { renderMarkdown } from './markdown.js';
import { renderHtml } from './html.js';

/** Extra renderers (HTML and others register here). */
export const renderers: { file: string; render: (r: Report) => string }[] = [
  { file: 'report.json', render: (r) => JSON.stringify(r, null, 2) + '\n' },
  { file: 'report.md', render: renderMarkdown },
  { file: 'report.html', render: renderHtml },
];

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text, { mode: 0o600 }); // private: src/exec/private-mode.ts
  await rename(`${path}.tmp`, path);
}

/** Write every rendering of the report into `dir`. */
export async function writeReports(report: Report, dir: string): Promise<void> {
  for (const r of renderers) await writeAtomic(join(dir, r.file), r.render(report));
}
