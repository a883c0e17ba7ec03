/**
 * The kernel's boot id: a random UUID the kernel draws at every boot
 * (`/proc/sys/kernel/random/boot_id`). The session floors carry it, so a floor saved before a
 * reboot is not restored: every session ended with the boot, and getting one again took a login.
 *
 * Contract: synchronous, reads the file once per call; never throws. '' when the file cannot
 * be read (then a saved floor's boot cannot be told apart, and it is restored).
 */
import { readFileSync } from 'node:fs';

export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

export function readBootId(file: string = BOOT_ID_FILE): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
