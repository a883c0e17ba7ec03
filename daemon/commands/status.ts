/** `sentinel status`: asks the running daemon (found through <data dir>/daemon.json) over HTTP. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SentinelError } from '../../src/errors.js';
import { defaultConfig } from '../config.js';

interface DaemonFile {
  pid: number;
  httpHost: string;
  httpPort: number;
  tokenFile: string;
}

interface SessionStatus {
  on: boolean;
  reason: string | null;
  user: string | null;
  state: string;
  score: number;
  modalities: { modality: string; live: boolean }[];
  app?: { on: boolean; reason: string | null };
  pointerDevices?: { unenrolledActions: number; unenrolled: { identity: string; actions: number }[] };
  mouseLearning?: { on: boolean; reason: string | null; buffered: number; learnedSittings: number; discardedActions: number; failures: number };
  mouseFusion?: { on: boolean; sittings: number; minSittings: number; blocksNotFused: number };
  keystrokeScoring?: { method: string | null; reason: string | null; embeddingFailures: number; off?: string | null; classical?: string | null; recalibrated?: boolean };
  sessionUser?: { source: string | null; enrolled: string[]; switches: number; heldFloors: { uid: number; state: string }[] };
  mouseCohort?: { on: boolean; reason: string | null; members: string[]; background?: { members: number }; fitting: boolean; scoring: boolean; member: { enrolledFar: number } | null; blocksScored: number };
}

/** One line on the several-users mouse model: whom it is over and whether the session user is scored by it (nothing when not reported). */
function mouseCohortLine(b: SessionStatus | undefined): string[] {
  const c = b?.mouseCohort;
  if (!c) return [];
  const fitting = c.fitting ? ' (fitting)' : '';
  if (!c.on) return [`mouse users ${c.reason ?? 'off'}${fitting}`];
  const scoring = c.scoring && c.member
    ? `scoring ${b?.user ?? ''} (${c.blocksScored} blocks; estimated ${(100 * c.member.enrolledFar).toFixed(1)}% of the others' blocks accepted)`
    : 'not scoring the session user';
  const background = c.background?.members ? ` and ${c.background.members} background members` : '';
  return [`mouse users on over ${c.members.join(', ')}${background}: ${scoring}${fitting}`];
}

/** One line on whose profile is scored and why, with the enrolled users and held floors (nothing when not reported). */
function sessionUserLine(b: SessionStatus | undefined): string[] {
  const u = b?.sessionUser;
  if (!u) return [];
  const who = b?.on && u.source ? `${b.user ?? ''} (${u.source})` : 'nobody';
  const held = u.heldFloors.length ? `; held: ${u.heldFloors.map((h) => `uid ${h.uid} at ${h.state}`).join(', ')}` : '';
  return [`users       scoring ${who}; enrolled: ${u.enrolled.length ? u.enrolled.join(', ') : 'none'}; ${u.switches} switches${held}`];
}

/** One line on how keystroke windows are scored, or why they are not (nothing without a keystroke model). */
function keystrokeScoringLine(b: SessionStatus | undefined): string[] {
  const k = b?.on ? b.keystrokeScoring : undefined;
  if (k?.off) return [`keystrokes  off (${k.off})`];
  if (!k || k.method === null) return [];
  const failures = k.embeddingFailures ? `; ${k.embeddingFailures} embedding failures` : '';
  const recalibrated = k.recalibrated ? `; profile recalibrated under ${k.classical ?? 'the shipped weights'}` : '';
  return [`keystrokes  ${k.method}${k.reason ? ` (${k.reason})` : ''}${failures}${recalibrated}`];
}

/** One line on whether the mouse takes part in the session score (nothing without a mouse model). */
function mouseFusionLine(b: SessionStatus | undefined): string[] {
  const m = b?.on ? b.mouseFusion : undefined;
  if (!m || m.sittings === 0) return [];
  if (m.on) return [`mouse fuse  on: ${m.sittings} sittings`];
  return [`mouse fuse  waiting: ${m.sittings} of ${m.minSittings} sittings (${m.blocksNotFused} blocks scored, not fused)`];
}

/** One line on mouse learning by use: its counts, or why it is off (nothing when not reported). */
function mouseLearningLine(b: SessionStatus | undefined): string[] {
  const m = b?.on ? b.mouseLearning : undefined;
  if (!m) return [];
  if (!m.on) return [`mouse learn ${m.reason ?? 'off'}${m.learnedSittings ? ` (${m.learnedSittings} sittings learned before)` : ''}`];
  return [`mouse learn on: ${m.buffered} actions buffered, ${m.learnedSittings} sittings learned, ${m.discardedActions} actions discarded (left Normal), ${m.failures} failures`];
}

/** One line on the user-session subject: its state and live modalities, or why it is off. */
function sessionLine(b: SessionStatus | undefined): string {
  if (!b) return 'session     (not reported)';
  if (!b.on) return `session     off: ${b.reason ?? 'unknown'}`;
  const live = b.modalities.filter((m) => m.live).map((m) => m.modality);
  const app = b.app && !b.app.on && b.app.reason ? `; ${b.app.reason}` : '';
  const un = b.pointerDevices?.unenrolled ?? [];
  const pointers = un.length ? `; not scored, pointer device not enrolled: ${un.map((u) => `${u.identity} (${u.actions} actions)`).join(', ')}` : '';
  return `session     ${b.user ?? ''} ${b.state} (score ${b.score.toFixed(3)}; live: ${live.length ? live.join(', ') : 'none'}${app}${pointers})`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the running daemon: connections, subjects by state, drops, models')
    .option('--data-dir <dir>', 'data directory of the daemon')
    .option('--json', 'print the raw JSON status')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const dataDir = defaultConfig(opts.dataDir ? path.resolve(opts.dataDir) : undefined).dataDir;
      let info: DaemonFile;
      try {
        info = JSON.parse(readFileSync(path.join(dataDir, 'daemon.json'), 'utf8')) as DaemonFile;
      } catch {
        throw new SentinelError('SENTINEL_E_NOT_RUNNING', `no daemon.json in ${dataDir}: is \`sentinel start\` running with this data dir?`);
      }
      const token = readFileSync(info.tokenFile, 'utf8').trim();
      let res: Response;
      try {
        res = await fetch(`http://${info.httpHost}:${info.httpPort}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        throw new SentinelError('SENTINEL_E_NOT_RUNNING', `daemon pid ${info.pid} does not answer on ${info.httpHost}:${info.httpPort}: ${(err as Error).message}`);
      }
      const body = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new SentinelError('SENTINEL_E_IO', `status request failed: ${JSON.stringify(body)}`);
      if (opts.json) {
        process.stdout.write(JSON.stringify(body, null, 2) + '\n');
        return;
      }
      const engine = body['engine'] as Record<string, unknown>;
      const lines = [
        `sentinel ${String(body['version'])}  pid ${String(body['pid'])}  up ${Math.round(Number(body['uptimeMs']) / 1000)} s`,
        `socket      ${String(body['socket'])}  (${String(body['connections'])} connections)`,
        `database    ${String(body['database'])}`,
        `events      ${String(engine['eventsAccepted'])} accepted, ${String(engine['eventsRejected'])} rejected, ${String(engine['eventsDroppedNoSubject'])} dropped (no subject)`,
        `subjects    ${String(engine['subjectsLive'])} live; ${Object.entries(body['subjectsByState'] as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        `models      ${Object.entries(body['models'] as Record<string, string>).map(([k, v]) => `${k} ${v.slice(0, 12)}`).join(', ')}`,
        sessionLine(body['biometrics'] as SessionStatus | undefined),
        ...sessionUserLine(body['biometrics'] as SessionStatus | undefined),
        ...keystrokeScoringLine(body['biometrics'] as SessionStatus | undefined),
        ...mouseFusionLine(body['biometrics'] as SessionStatus | undefined),
        ...mouseCohortLine(body['biometrics'] as SessionStatus | undefined),
        ...mouseLearningLine(body['biometrics'] as SessionStatus | undefined),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
