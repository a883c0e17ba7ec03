/**
 * A folder watched for files that are replaced by rename (profiles written by `saveProfile`,
 * logind's seat file): `fs.watch` on the folder, since a watch on the file would follow the
 * replaced inode. The burst of events one rename makes settles into one call of `onSettled`
 * with the names that changed, 50 ms after the first event of the burst.
 *
 * `accept` filters the names. A watch that fails later (inotify error) is closed and reported
 * once to `onError`; `watchFolder` itself throws what `fs.watch` throws (a missing folder).
 * `close()` also drops a pending call. The timer does not keep the process alive.
 */
import { watch } from 'node:fs';

export interface FolderWatch {
  close(): void;
}

export function watchFolder(dir: string, accept: (name: string) => boolean, onSettled: (names: string[]) => void, onError: (err: Error) => void): FolderWatch {
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  const w = watch(dir, (_event, name) => {
    if (!name || !accept(name)) return;
    changed.add(name);
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      const names = [...changed];
      changed.clear();
      onSettled(names);
    }, 50);
    timer.unref();
  });
  const close = (): void => {
    w.close();
    if (timer) clearTimeout(timer);
    timer = null;
  };
  w.on('error', (err) => {
    close();
    onError(err);
  });
  return { close };
}
