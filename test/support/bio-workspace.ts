/**
 * A temporary folder for one biometrics e2e test, the layout they all use:
 * - `input/`: the daemon's watched input directory (FIFO devices go here, fifo-device.ts);
 * - `recordings/`: `struct input_event` recordings for `sentinel enroll --device` (`rec`);
 * - `data/`: the daemon's and the CLI's data directory (created by them);
 * - `sentinel.json`: the config, `{ biometrics: { inputDir: input, ...NO_SEAT, ...biometrics }, ...top }`.
 *
 * `enroll` runs `sentinel enroll` on this config and data directory. `done()` removes the folder:
 * call it in `finally`, after the daemon has stopped.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './daemon-process.js';
import { AuditStore } from '../../src/audit/store.js';
import type { ActionRow, TransitionRow } from '../../src/audit/records.js';
import { SESSION_SUBJECT_ID } from '../../daemon/biometrics.js';
import { NO_SEAT } from './biometrics-config.js';

export interface BioWorkspace {
  dir: string;
  data: string;
  input: string;
  cfgFile: string;
  /** The profile file `sentinel enroll --user <user>` writes. */
  profile(user: string): string;
  /** Writes a recording under recordings/ and returns its path (its identity is `file:<name>`). */
  rec(name: string, bytes: Buffer): string;
  /** The session subject's audited actions of this kind in the daemon's database (read-only; newest first). */
  sessionActions(action: string): ActionRow[];
  /** The session subject's audited transitions, oldest first (read-only). */
  sessionTransitions(): TransitionRow[];
  /** `sentinel enroll --config <cfg> --data-dir <data> ...args`. */
  enroll(args: string[], env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  done(): void;
}

/** `biometrics` may be a function of the folder, for settings that name files in it (a lock command's marker). */
export function bioWorkspace(prefix: string, biometrics: Record<string, unknown> | ((dir: string) => Record<string, unknown>) = {}, top: Record<string, unknown> = {}): BioWorkspace {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const bio = typeof biometrics === 'function' ? biometrics(dir) : biometrics;
  const input = path.join(dir, 'input');
  const data = path.join(dir, 'data');
  mkdirSync(input);
  mkdirSync(path.join(dir, 'recordings'));
  const cfgFile = path.join(dir, 'sentinel.json');
  writeFileSync(cfgFile, JSON.stringify({ ...top, biometrics: { inputDir: input, ...NO_SEAT, ...bio } }));
  /** One read of the daemon's audit database, opened read-only and closed again. */
  const readAudit = <T>(read: (audit: AuditStore) => T): T => {
    const audit = new AuditStore(path.join(data, 'sentinel.db'), { readonly: true });
    try {
      return read(audit);
    } finally {
      audit.close();
    }
  };
  return {
    dir,
    data,
    input,
    cfgFile,
    profile: (user) => path.join(data, 'profiles', `${user}.json`),
    rec: (name, bytes) => {
      const f = path.join(dir, 'recordings', name);
      writeFileSync(f, bytes);
      return f;
    },
    sessionActions: (action) => readAudit((audit) => audit.actions({ subjectId: SESSION_SUBJECT_ID, action })),
    sessionTransitions: () => readAudit((audit) => audit.transitions({ subjectId: SESSION_SUBJECT_ID }).reverse()),
    enroll: (args, env) => runCli(['enroll', '--config', cfgFile, '--data-dir', data, ...args], env),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}
