/**
 * Bounds for free text in reports. Restore errors and check details can carry text the restored copy produced
 * (a hostile dump can raise any rows it reads as an error message): reports keep the first part, run.log (0600)
 * keeps the whole.
 */

/** Longest restore error message kept in report.md/json/html (characters). */
export const REPORT_MESSAGE_MAX = 500;
/** Longest check detail kept in a report (characters). */
export const REPORT_DETAIL_MAX = 2000;

/** `text` when it fits in `max` characters, else its first `max` characters and a pointer to run.log. */
export function boundText(text: string, max: number = REPORT_MESSAGE_MAX): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters in run.log]`;
}
