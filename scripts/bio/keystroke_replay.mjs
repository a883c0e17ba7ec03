#!/usr/bin/env node
// Aalto TEST typists through the daemon's own keystroke code (dist/, `npm run build:ts`): the
// native KeystrokeScorer, the ONNX embedder on its worker thread and the SessionMonitor with the
// default policy, keystrokes only. Two things are measured for the classical score
// (KeystrokeStream) and the shipped combination (EmbeddedKeystrokeStream):
//
// 1. Window EER through the Node path: non-overlapping 100-keystroke windows of each typist's
//    test sentences against their own profile and against IMPOSTORS other typists' profiles. It
//    should agree with scripts/bio/keystroke_learned.py, which scored the same rows in PyTorch.
// 2. What the session subject does: each typist's test sentences, scored every 25 keystrokes as
//    the daemon does, at their recorded press times, against their own profile (false
//    Restricted / Lockdown) and against IMPOSTORS other typists' profiles (how often and how
//    fast another person at the keyboard is locked out).
//
// Input: `aalto_eval --dump DIR` (records.tsv with press times). The profiles are enrolled with
// enrollKeystrokeProfile (window 100, frr 0.05) and the embedder's reference, as `sentinel
// enroll` does.
//
// --probs FILE writes the shipped stream's impostor probabilities of part 2, every sequence
// with the times they were scored at (ms since its first keystroke), for session_replay.mjs
// --keys (keystrokes and mouse through one session subject: docs/biometrics.md, "Keystrokes and
// mouse together").
//
// usage: node scripts/bio/keystroke_replay.mjs DIR [--impostors 5] [--max-users N] [--probs FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(path.join(root, 'dist', 'src', ...p.split('/')));
const { SessionMonitor } = await dist('biometrics/session-monitor.js');
const { enrollKeystrokeProfile, KeystrokeStream } = await dist('biometrics/keystroke-model.js');
const { EmbeddedKeystrokeStream, openKeystrokeEmbedding } = await dist('biometrics/keystroke-embedded-stream.js');
const { KEY_RECORD_STRIDE } = await dist('binding.js');

const args = process.argv.slice(2);
const dir = args[0];
if (!dir) throw new Error('usage: keystroke_replay.mjs DIR [--impostors 5] [--max-users N]');
const opt = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const IMPOSTORS = opt('--impostors', 5);
const MAX_USERS = opt('--max-users', Infinity);
const probsOut = args.includes('--probs') ? args[args.indexOf('--probs') + 1] : null;
if (args.includes('--probs') && !probsOut) throw new Error('--probs needs a FILE');
const W = 100;

// records.tsv: split user part sentence code backspace has_hold has_digraph mono digraph hold pp rp press_ms
const users = new Map();
const lines = readFileSync(path.join(dir, 'records.tsv'), 'utf8').split('\n');
const head = lines.shift().split('\t');
if (head.at(-1) !== 'press_ms') throw new Error('records.tsv has no press_ms column: dump again with this aalto_eval');
for (const line of lines) {
  if (!line) continue;
  const f = line.split('\t');
  if (f[0] !== 'test') continue;
  let u = users.get(f[1]);
  if (!u) users.set(f[1], (u = { e: [], t: [], te: [] }));
  const flags = Number(f[5]) | (Number(f[6]) << 1) | (Number(f[7]) << 2);
  const rec = [Number(f[13]), flags, Number(f[8]), Number(f[9]), Number(f[10]), Number(f[11]), Number(f[12])];
  u[f[2]].push(...rec);
  if (f[2] === 't') u.te.push(Number(f[13]));
}
const ids = [...users.keys()].slice(0, MAX_USERS);
for (const id of ids) {
  const u = users.get(id);
  u.e = Float64Array.from(u.e);
  u.t = Float64Array.from(u.t);
}

const models = await openKeystrokeEmbedding(path.join(root, 'models'));
const params = models.fusion.windows.get(W);

function rocEer(g, im) {
  // metrics.cpp roc_summary's EER (threshold sweep, linear interpolation at the crossing)
  g = [...g].sort((a, b) => a - b);
  im = [...im].sort((a, b) => a - b);
  const lower = (a, t) => {
    let lo = 0, hi = a.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (a[m] < t) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const th = [...new Set([...g, ...im])].sort((a, b) => a - b);
  th.push(th.at(-1) + 1);
  let pf = 1, pr = 0;
  for (const t of th) {
    const frr = lower(g, t) / g.length;
    const far = (im.length - lower(im, t)) / im.length;
    if (frr >= far) {
      const d0 = pf - pr, d1 = frr - far;
      const a = d0 + d1 > 0 ? d0 / (d0 + d1) : 0;
      return 0.5 * (pf + a * (far - pf) + pr + a * (frr - pr));
    }
    pf = far;
    pr = frr;
  }
  return 0.5;
}

// Deterministic impostor choice: the next IMPOSTORS typists in id order (their own test
// sentences, read against this typist's profile).
const others = (i) => Array.from({ length: Math.min(IMPOSTORS, ids.length - 1) }, (_, k) => ids[(i + 1 + k) % ids.length]);

const profiles = [];
for (const id of ids) {
  const u = users.get(id);
  profiles.push({ id, bytes: await enrollKeystrokeProfile(u.e, { window: W, frr: 0.05 }), reference: await models.embedder.reference(u.e) });
}
const streams = {
  fused: { score: async (p, keys) => Array.from(new KeystrokeStream(p.bytes, 1).pushScores(keys)), probabilities: async (p, keys) => new KeystrokeStream(p.bytes, 25).push(keys) },
  embedded: {
    score: async (p, keys) => (await new EmbeddedKeystrokeStream(p.bytes, p.reference, params, models.embedder, 0.05, 1).pushScores(keys)).map((x) => x.combined),
    probabilities: (p, keys) => new EmbeddedKeystrokeStream(p.bytes, p.reference, params, models.embedder, 0.05, 25).push(keys),
  },
};

// 1. Window EER on the non-overlapping windows Python scored: one fresh stream per window with
// stride 1 scores exactly that window. Scores are the raw ones (fused; combined), as there.
const eer = {};
for (const [name, m] of Object.entries(streams)) {
  const g = [], im = [], ug = new Map(), ui = new Map();
  for (let i = 0; i < profiles.length; i++) {
    const p = profiles[i];
    for (const owner of [p.id, ...others(i)]) {
      const keys = users.get(owner).t;
      const n = keys.length / KEY_RECORD_STRIDE;
      const genuine = owner === p.id;
      for (let w = 0; (w + 1) * W <= n; w++) {
        const [x] = await m.score(p, keys.subarray(w * W * KEY_RECORD_STRIDE, (w + 1) * W * KEY_RECORD_STRIDE));
        (genuine ? g : im).push(x);
        const mm = genuine ? ug : ui;
        mm.set(p.id, [...(mm.get(p.id) ?? []), x]);
      }
    }
  }
  const per = [...ug.keys()].filter((k) => ui.has(k)).map((k) => rocEer(ug.get(k), ui.get(k)));
  eer[name] = { perUserEer: Number((100 * per.reduce((a, b) => a + b, 0) / per.length).toFixed(2)), pooledEer: Number((100 * rocEer(g, im)).toFixed(2)), genuineWindows: g.length, impostorWindows: im.length };
}

// 2. The session subject, every 25 keystrokes at the recorded press times.
const session = {};
const probs = [];
for (const [name, m] of Object.entries(streams)) {
  const res = { genuine: { typists: 0, windows: 0, restricted: 0, lockdown: 0 }, impostor: { sequences: 0, windows: 0, lockdown: 0, keysToLockdown: [] } };
  for (let i = 0; i < profiles.length; i++) {
    const p = profiles[i];
    for (const owner of [p.id, ...others(i)]) {
      const u = users.get(owner);
      const ps = await m.probabilities(p, u.t);
      if (!ps.length) continue;
      if (name === 'embedded' && probsOut) {
        const t = ps.map((_, k) => u.te[W + 24 + 25 * k - 1] - u.te[0]);
        probs.push({ profile: p.id, owner, genuine: owner === p.id, t, p: ps.map((x) => Number(x.toFixed(6))) });
      }
      const mon = new SessionMonitor({ subjectId: 1 });
      let worst = 0, lockAt = null;
      ps.forEach((x, k) => {
        const end = W + 24 + 25 * k; // records seen when window k is scored
        const t = u.te[end - 1];
        mon.tickDecay(t);
        mon.observe('keystroke', x, t);
        worst = Math.max(worst, mon.state);
        if (mon.state === 3 && lockAt === null) lockAt = end;
      });
      const r = owner === p.id ? res.genuine : res.impostor;
      r.windows += ps.length;
      if (owner === p.id) {
        r.typists++;
        if (worst >= 2) r.restricted++;
        if (worst === 3) r.lockdown++;
      } else {
        r.sequences++;
        if (lockAt !== null) {
          r.lockdown++;
          r.keysToLockdown.push(lockAt);
        }
      }
    }
  }
  const k = res.impostor.keysToLockdown.sort((a, b) => a - b);
  session[name] = {
    genuineTypists: res.genuine.typists,
    genuineWindows: res.genuine.windows,
    genuineReachedRestricted: Number((res.genuine.restricted / res.genuine.typists).toFixed(3)),
    genuineReachedLockdown: Number((res.genuine.lockdown / res.genuine.typists).toFixed(3)),
    impostorSequences: res.impostor.sequences,
    impostorLocked: Number((res.impostor.lockdown / res.impostor.sequences).toFixed(3)),
    impostorMedianKeysToLockdown: k.length ? k[k.length >> 1] : null,
  };
}
await models.embedder.close();
if (probsOut) writeFileSync(probsOut, JSON.stringify({ window: W, stride: 25, sequences: probs }) + '\n');
process.stdout.write(JSON.stringify({ typists: profiles.length, impostorsPerTypist: IMPOSTORS, window: W, eer, session }, null, 1) + '\n');
