/** Whether a path exists (anything `stat` can see: file, directory, socket…). Never throws. */
import { stat } from 'node:fs/promises';

export function pathExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
