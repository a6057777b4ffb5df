/** pgdrill's own version, from package.json (works from src/ under tsx and from dist/). */
import { readFileSync } from 'node:fs';

export const PGDRILL_VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();
