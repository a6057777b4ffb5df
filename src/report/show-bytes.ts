/**
 * A report shows bytes read from a SQL_ASCII database that are not UTF-8 as `\xNN` (src/pg/server-bytes.ts): names,
 * values and server messages reach the report's tables, checks, differences and notes from many stages, and every
 * one of them is shown the same way, once, when the report is assembled. Strings without such bytes are untouched.
 */
import { showBytes } from '../pg/server-bytes.js';

/** Apply showBytes to every string in `value` (objects and arrays changed in place); returns the shown value. */
export function showBytesIn<T>(value: T): T {
  if (typeof value === 'string') return showBytes(value) as T;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = showBytesIn(value[i]);
  } else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const shown = showBytes(k);
      const v = showBytesIn(o[k]);
      if (shown !== k) delete o[k];
      o[shown] = v;
    }
  }
  return value;
}
