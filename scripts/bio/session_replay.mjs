#!/usr/bin/env node
// The daemon's session subject over recorded mouse block scores: what a user of the product
// sees (false lockdowns of the enrolled user, how fast another person is locked out), not a
// per-block error rate.
//
// Input: the CSV of `balabit_eval --oneclass 1 --oc-methods hist-w --dump-blocks FILE`: one row
// per block the daemon's MouseStream would score (20 actions, every 5 actions) of each scored
// session, with the profile's threshold (calibrated to 5%) and genuine sd. Each session is
// replayed through the compiled SessionMonitor (dist/, `npm run build:ts`) with the daemon's
// defaults (mouse only; EMA 0.5; the default trust policy), each block mapped to an impostor
// probability exactly as MouseStream.push does, at the session's own elapsed time (the gaps
// between actions, capped at 30 s by the extractor, plus the actions' durations). tickDecay runs
// before every observation, as the daemon's tick would.
//
// A Lockdown of the enrolled user is counted and then reset (the user unlocks the screen and the
// operator resets the session subject), so the replay goes on and counts lockdowns per hour of
// the user's own mouse use. For another person's session the first Lockdown ends the replay.
//
// --learn N also simulates mouse learning by use (biometrics.mouseLearnActions N; 5 new actions per
// block, the newest two 20-action blocks held back) under two rules: "strict" (the daemon's: any
// exit from Normal discards the buffer) and "restricted" (only reaching Restricted discards it;
// blocks scored outside Normal are not buffered). It reports the sittings learned per hour of the
// enrolled user's use and the share of other people's sessions a sitting would be learned from.
// --learn-gate G learns a sitting only when its blocks' mean impostor probability is under G.
//
// --cohort closed|open adds the several-users mouse model as the daemon runs it: each block is
// also observed as the modality `mouseCohort` (same smoothing), from the dump's cohort columns
// (`balabit_eval --oc-methods hist-w,mcc --dump-blocks`): `closed`, every TEST user enrolled (the
// impostor is one of them); `open`, the impostor's session scored by a model without them (an
// outsider). Genuine sessions are scored by the model of every TEST user either way. Each block's
// two scores are one trust-machine observation (SessionMonitor.observeAll, as the daemon does);
// --cohort-twice observes them one after the other (what the daemon did before: a block counted
// twice toward the confirmations). --cohort-gate M caps the cohort's smoothed log-odds at the
// one-class one's + M (`lean`: the cohort may lean impostor only while the one-class score does):
// measured and rejected (docs/biometrics.md).
//
// --users u1,u2,... replays only the sessions scored against those users' profiles (one half's
// TEST users, so a setting chosen on one half is reported on the other).
//
// --keys FILE adds keystrokes (`keystroke_replay.mjs --probs FILE`: Aalto TEST typists' impostor
// probabilities from the shipped keystroke stream, with the times they were scored at). No data
// set has one person's keystrokes and mouse, so each replayed person is a chimera: a Balabit
// user's mouse and Aalto typing. A genuine session types genuine sequences (a typist against
// their own profile), another person's session impostor ones (a typist against another's). The
// typing comes in bursts: one sequence (about 250 keystrokes, at its recorded pace), then
// --type-every S seconds without typing (default 300), then the next, from --type-first S into
// the session (default 0); keystroke events are merged with the mouse blocks by time and each
// is one observation of the modality `keystroke` (smoothing as the daemon's: alpha 0.5 from the
// first score, whatever --ema says of the mouse). --type-draw fresh (default) draws every burst's
// sequence anew (a person's bursts as independent as two typists': too optimistic where one
// person is consistently hard to tell); loop draws one per session and repeats it (as dependent
// as can be: too pessimistic). The truth lies between; --type-seed N picks the draws.
//
// --sessions-out FILE writes every replayed session's result as a JSON line.
//
// usage: node scripts/bio/session_replay.mjs [--users LIST] [--sessions-out FILE] [--ema A] [--ema-start P] [--policy JSON] [--weights JSON] [--learn N [--learn-gate G]] [--cohort closed|open [--cohort-twice] [--cohort-gate M|lean]] FILE.csv ...
//        [--keys FILE [--type-every S] [--type-first S] [--type-draw fresh|loop] [--type-seed N]]
//        (one JSON line per file; --ema and --ema-start as biometrics.emaAlpha and
//        biometrics.emaStart of the mouse modalities, --policy as biometrics.policy; --weights the session monitor's fusion weights,
//        e.g. {"mouseCohort": 2})
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { SessionMonitor } = await import(path.join(root, 'dist', 'src', 'biometrics', 'session-monitor.js'));
const { impostorProbability } = await import(path.join(root, 'dist', 'src', 'biometrics', 'keystroke-model.js'));
const { rng } = await import(path.join(root, 'dist', 'src', 'lab', 'victims.js'));
const { defaultConfig } = await import(path.join(root, 'dist', 'daemon', 'config.js'));

function sessions(file, cohort, users) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const head = lines.shift().split(',');
  const col = (n) => {
    const i = head.indexOf(n);
    if (i < 0) throw new Error(`${file}: no column ${n}`);
    return i;
  };
  const [cu, cf, cs, cg, ct, cx, cth, csd] = ['user', 'fold', 'session', 'genuine', 't_s', 'score', 'threshold', 'genuine_sd'].map(col);
  const pre = cohort === 'open' ? 'cohort_open_' : 'cohort_';
  const [qx, qth, qsd] = cohort ? ['score', 'threshold', 'sd'].map((n) => col(pre + n)) : [];
  const out = new Map();
  for (const line of lines) {
    const r = line.split(',');
    if (users && !users.has(r[cu])) continue;
    const key = `${r[cu]}|${r[cf]}|${r[cs]}|${r[cg]}`;
    let s = out.get(key);
    if (!s) out.set(key, (s = { key, genuine: r[cg] === '1', name: r[cs], blocks: [] }));
    const q = cohort ? impostorProbability(Number(r[qx]), Number(r[qth]), Number(r[qsd])) : undefined;
    if (q !== undefined && !(q >= 0 && q <= 1)) throw new Error(`${file}: no ${pre}score for ${key}`);
    s.blocks.push({ t: Number(r[ct]), p: impostorProbability(Number(r[cx]), Number(r[cth]), Number(r[csd])), q });
  }
  if (users && !out.size) throw new Error(`${file}: no session scored against --users ${[...users].join(',')}`);
  if (keyPools) for (const s of out.values()) s.keys = typing(s);
  return [...out.values()];
}

const args = process.argv.slice(2);
let emaAlpha = 0.5;
let emaStart;
let policy = {};
let weights = {};
let learnActions = 0;
let learnGate = 1;
let cohort = null;
let cohortGate = null;
let twice = false;
let users = null;
let keysFile = null;
let typeEvery = 300;
let typeFirst = 0;
let typeDraw = 'fresh';
let typeSeed = 1;
let sessionsOut = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--ema') emaAlpha = Number(args[++i]);
  else if (args[i] === '--policy') policy = JSON.parse(args[++i]);
  else if (args[i] === '--weights') weights = JSON.parse(args[++i]);
  else if (args[i] === '--ema-start') emaStart = Number(args[++i]);
  else if (args[i] === '--learn') learnActions = Number(args[++i]);
  else if (args[i] === '--learn-gate') learnGate = Number(args[++i]);
  else if (args[i] === '--cohort-gate') cohortGate = args[++i];
  else if (args[i] === '--cohort-twice') twice = true;
  else if (args[i] === '--users') users = new Set(args[++i].split(',').filter(Boolean));
  else if (args[i] === '--keys') keysFile = args[++i];
  else if (args[i] === '--sessions-out') sessionsOut = args[++i];
  else if (args[i] === '--type-every') typeEvery = Number(args[++i]);
  else if (args[i] === '--type-first') typeFirst = Number(args[++i]);
  else if (args[i] === '--type-seed') typeSeed = Number(args[++i]);
  else if (args[i] === '--type-draw') {
    typeDraw = args[++i];
    if (typeDraw !== 'fresh' && typeDraw !== 'loop') throw new Error('--type-draw must be fresh or loop');
  }
  else if (args[i] === '--cohort') {
    cohort = args[++i];
    if (cohort !== 'closed' && cohort !== 'open') throw new Error('--cohort must be closed or open');
  }
  else files.push(args[i]);
}

if (!(typeEvery > 0) || !(typeFirst >= 0) || !Number.isInteger(typeSeed)) throw new Error('--type-every must be > 0, --type-first >= 0, --type-seed an integer');

// --keys: the keystroke sequences, genuine and impostor pools (times in ms from the sequence's
// first keystroke).
const keyPools = (() => {
  if (!keysFile) return null;
  const d = JSON.parse(readFileSync(keysFile, 'utf8'));
  const pools = { genuine: [], impostor: [] };
  for (const q of d.sequences ?? []) {
    if (!Array.isArray(q.t) || q.t.length !== q.p?.length || !q.t.length) throw new Error(`${keysFile}: a sequence without matching t and p`);
    if (q.p.some((x) => !(x >= 0 && x <= 1))) throw new Error(`${keysFile}: a probability outside [0, 1]`);
    pools[q.genuine ? 'genuine' : 'impostor'].push(q);
  }
  if (!pools.genuine.length || !pools.impostor.length) throw new Error(`${keysFile}: needs genuine and impostor sequences`);
  return pools;
})();

// A deterministic PRNG per session (the project's mulberry32), seeded from --type-seed and its key.
function prng(key) {
  let h = typeSeed >>> 0;
  for (const c of key) h = Math.imul(h ^ c.charCodeAt(0), 2654435761) >>> 0;
  return rng(h);
}

// The session's keystroke observations: bursts from --type-first on, each one pooled sequence
// at its own pace, then --type-every seconds without typing; none after the last mouse block.
function typing(s) {
  const end = s.blocks.at(-1)?.t ?? 0;
  const pool = keyPools[s.genuine ? 'genuine' : 'impostor'];
  const rnd = prng(s.key);
  const pick = () => pool[Math.floor(rnd() * pool.length)];
  const fixed = pick();
  const out = [];
  for (let t0 = typeFirst; t0 <= end; ) {
    const q = typeDraw === 'loop' ? fixed : pick();
    for (let k = 0; k < q.t.length && t0 + q.t[k] / 1000 <= end; k++) out.push({ t: t0 + q.t[k] / 1000, p: q.p[k] });
    t0 += q.t.at(-1) / 1000 + typeEvery;
  }
  return out;
}

// --cohort-gate M: the cohort's smoothed log-odds is capped at the one-class one's + M
// (`lean`: the cohort may lean impostor only while the one-class score does).
function gate(mon, how) {
  const M = Number(how);
  mon.fuse = function (nowMs) {
    let sum = 0;
    let wsum = 0;
    const m = this.mods.get('mouse');
    const live = (s) => s.ema !== null && s.lastMs !== null && nowMs - s.lastMs <= this.silentAfterMs;
    for (const [mod, s] of this.mods) {
      if (!live(s)) continue;
      let e = s.ema;
      if (mod === 'mouseCohort' && live(m)) e = how === 'lean' ? (m.ema > 0 ? e : Math.min(e, 0)) : Math.min(e, m.ema + M);
      const w = this.weights[mod];
      sum += w * e;
      wsum += w;
    }
    return wsum > 0 ? 1 / (1 + Math.exp(-sum / wsum)) : 0;
  };
}

// Keystrokes (and the app) keep the daemon's default smoothing (alpha 0.5 from the first score);
// --ema and --ema-start are the mouse modalities'.
const alphas = { ...defaultConfig().biometrics.emaAlpha, mouse: emaAlpha, mouseCohort: emaAlpha };
const starts = emaStart === undefined ? undefined : { mouse: emaStart, mouseCohort: emaStart };

function replay(s) {
  const mon = new SessionMonitor({ subjectId: 1, emaAlpha: alphas, policy, weights, ...(starts ? { emaStart: starts } : {}) });
  if (cohortGate !== null) gate(mon, cohortGate);
  let lockdowns = 0;
  let restricted = 0;
  let leftNormal = 0;
  let firstLockdownActions = null;
  let firstLockdownS = null;
  const HOLDBACK = 40;
  const learn = { strict: { buffered: 0, sittings: 0, sum: 0, n: 0 }, restricted: { buffered: 0, sittings: 0, sum: 0, n: 0 } };
  // Mouse blocks and (--keys) keystroke observations in time order; a keystroke at the same
  // time as a block comes after it.
  const events = s.blocks.map((b) => ({ t: b.t, b }));
  if (s.keys) {
    events.push(...s.keys.map((k) => ({ t: k.t, k })));
    events.sort((x, y) => x.t - y.t || (x.k ? 1 : 0) - (y.k ? 1 : 0));
  }
  let blocksSeen = 0;
  let keysObserved = 0;
  for (const e of events) {
    const ms = e.t * 1000;
    mon.tickDecay(ms);
    const before = mon.state;
    const b = e.b;
    if (!b) {
      mon.observe('keystroke', e.k.p, ms);
      keysObserved++;
    } else {
      blocksSeen++;
      if (b.q === undefined) mon.observe('mouse', b.p, ms);
      else if (twice) {
        mon.observe('mouse', b.p, ms);
        mon.observe('mouseCohort', b.q, ms);
      } else mon.observeAll([['mouse', b.p], ['mouseCohort', b.q]], ms);
    }
    if (mon.state >= 2 && before < 2) restricted++;
    if (mon.state >= 1 && before === 0) leftNormal++;
    if (learnActions > 0) {
      // A block scored in Normal adds its new actions (20 for the first, then 5); a keystroke
      // window adds none, but leaving Normal on it discards them as on a block (the daemon's
      // rule is on the session's state).
      const fresh = !b ? 0 : blocksSeen === 1 ? 20 : 5;
      const inNormal = before === 0 && mon.state === 0;
      // strict: any exit from Normal discards; restricted: only reaching Restricted does
      const add = (r) => {
        r.buffered += fresh;
        r.sum += b.p;
        r.n++;
      };
      const clear = (r) => {
        r.buffered = 0;
        r.sum = 0;
        r.n = 0;
      };
      if (inNormal && b) add(learn.strict);
      else if (!inNormal && before === 0) clear(learn.strict);
      if (inNormal && b) add(learn.restricted);
      if (mon.state >= 2 && before < 2) clear(learn.restricted);
      for (const r of Object.values(learn)) {
        if (r.buffered >= learnActions + HOLDBACK) {
          // --learn-gate G: a sitting is learned only if its blocks' mean impostor probability is
          // under G (measured and rejected: docs/biometrics.md); the rest stays buffered.
          if (r.sum / r.n < learnGate) r.sittings++;
          r.buffered -= learnActions;
          r.sum = 0;
          r.n = 0;
        }
      }
    }
    if (mon.state === 3 && before < 3) {
      lockdowns++;
      if (firstLockdownActions === null) {
        // mouse actions seen so far (the block just scored included)
        firstLockdownActions = blocksSeen ? 20 + 5 * (blocksSeen - 1) : 0;
        firstLockdownS = e.t;
      }
      if (!s.genuine) break;
      mon.reset(ms, 'replay');
    }
  }
  const hours = (s.blocks.at(-1)?.t ?? 0) / 3600;
  return { keysObserved, lockdowns, restricted, leftNormal, firstLockdownActions, firstLockdownS, hours, learnedStrict: learn.strict.sittings, learnedRestricted: learn.restricted.sittings };
}

function median(v) {
  if (!v.length) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

if (sessionsOut) writeFileSync(sessionsOut, '');
for (const file of files) {
  const all = sessions(file, cohort, users).map((s) => ({ key: s.key, genuine: s.genuine, name: s.name, ...replay(s) }));
  // --sessions-out FILE: every session's result, one JSON line each (to compare two settings
  // session by session)
  if (sessionsOut) appendFileSync(sessionsOut, all.map((r) => JSON.stringify({ file: path.basename(file), ...r }) + '\n').join(''));
  const g = all.filter((s) => s.genuine);
  const im = all.filter((s) => !s.genuine);
  const locked = im.filter((s) => s.lockdowns > 0);
  const gh = g.reduce((a, s) => a + s.hours, 0);
  const gl = g.reduce((a, s) => a + s.lockdowns, 0);
  process.stdout.write(
    JSON.stringify({
      file: path.basename(file),
      emaAlpha,
      ...(emaStart === undefined ? {} : { emaStart }),
      ...(cohort ? { cohort } : {}),
      ...(users ? { users: [...users] } : {}),
      ...(Object.keys(weights).length ? { weights } : {}),
      ...(Object.keys(policy).length ? { policy } : {}),
      ...(keyPools
        ? {
            keys: { file: path.basename(keysFile), typeEvery, typeFirst, typeDraw, typeSeed },
            genuineKeystrokeWindowsPerHour: Number((g.reduce((a, s) => a + s.keysObserved, 0) / Math.max(gh, 1e-9)).toFixed(1)),
          }
        : {}),
      genuineSessions: g.length,
      genuineHours: Number(gh.toFixed(1)),
      genuineSessionsWithLockdown: Number((g.filter((s) => s.lockdowns > 0).length / Math.max(1, g.length)).toFixed(3)),
      genuineLockdownsPerHour: Number((gl / Math.max(gh, 1e-9)).toFixed(3)),
      // which genuine sessions were locked, and how often ("user/session": lockdowns)
      genuineLockdowns: Object.fromEntries(g.filter((s) => s.lockdowns > 0).map((s) => [s.name, s.lockdowns])),
      genuineRestrictedPerHour: Number((g.reduce((a, s) => a + s.restricted, 0) / Math.max(gh, 1e-9)).toFixed(3)),
      // how often the enrolled user's session leaves Normal (what discards a sitting being learned)
      genuineLeftNormalPerHour: Number((g.reduce((a, s) => a + s.leftNormal, 0) / Math.max(gh, 1e-9)).toFixed(3)),
      impostorSessions: im.length,
      impostorSessionsLocked: Number((locked.length / Math.max(1, im.length)).toFixed(3)),
      impostorMedianActionsToLockdown: median(locked.map((s) => s.firstLockdownActions)),
      impostorMedianSecondsToLockdown: locked.length ? Number(median(locked.map((s) => s.firstLockdownS)).toFixed(1)) : null,
      ...(learnActions > 0
        ? {
            learnActions,
            genuineSittingsLearnedPerHour: {
              strict: Number((g.reduce((a, s) => a + s.learnedStrict, 0) / Math.max(gh, 1e-9)).toFixed(3)),
              restricted: Number((g.reduce((a, s) => a + s.learnedRestricted, 0) / Math.max(gh, 1e-9)).toFixed(3)),
            },
            impostorSessionsLearnedFrom: {
              strict: Number((im.filter((s) => s.learnedStrict > 0).length / Math.max(1, im.length)).toFixed(3)),
              restricted: Number((im.filter((s) => s.learnedRestricted > 0).length / Math.max(1, im.length)).toFixed(3)),
            },
          }
        : {}),
    }) + '\n',
  );
}
