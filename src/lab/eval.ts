/**
 * `sentinel eval <corpus>`: replays every recorded trace of a lab corpus through the engine
 * (replayTrace) and reports, per scenario, detection, files lost before Restricted (replay
 * estimate next to the live figure from result.json) and the benign highest state; plus ROC AUC
 * and precision/recall over subject windows (every scored row of every subject; attacker
 * subjects are the positives), overall and split by scenario family, and the issue-4 goals.
 */
import fs from 'node:fs';
import path from 'node:path';
import { replayTrace, type ReplaySubject } from '../replay/replay.js';
import { readTrace } from '../trace/reader.js';
import { DEFAULT_TRUST_POLICY } from '../state/policy.js';
import { scoreRows } from './score-rows.js';
import type { Labels, ScenarioResult } from './runner.js';

const STATES = ['Normal', 'Monitoring', 'Restricted', 'Lockdown'];
const idx = (s: string): number => Math.max(0, STATES.indexOf(s));

export interface EvalScenario {
  scenario: string;
  kind: 'ransomware' | 'benign';
  family: string;
  skipped?: string;
  error?: string;
  events: number;
  live: { detected: boolean; maxState: string; filesLost: number | null; filesTotal: number; msToRestricted: number | null; stoppedBy: string | null; benignExit: number | null; /** Operations sentinel-fuse refused with EPERM (its exit counters). */ deniedOps: number | null };
  /** Mixed scenarios: highest state of the non-attacker subjects, live and in replay, and the companion's exit code. */
  bystander?: { live: string; replay: string; exitCode: number | null };
  replay: { detected: boolean; maxState: string; restrictedAtEvent: number | null; msToRestricted: number | null; filesLostBeforeRestricted: number | null; filesDamagedInTrace: number; lowerBound: boolean };
  /** Score over time of the scenario's worst subject: [ms since first event, score]. */
  series: [number, number][];
}

export interface RocResult {
  positives: number;
  negatives: number;
  auc: number | null;
  threshold: number;
  precision: number | null;
  recall: number | null;
  fpr: number | null;
}

export interface EvalReport {
  corpus: string;
  modelHashes: Record<string, string>;
  scenarios: EvalScenario[];
  windows: { overall: RocResult; monitoring: RocResult; byFamily: Record<string, RocResult> };
  goals: { allDetectedLive: boolean; allDetectedReplay: boolean; medianLostLive: number | null; worstLostLive: number | null; medianLostReplay: number | null; worstLostReplay: number | null; benignRestrictedLive: string[]; benignRestrictedReplay: string[]; met: boolean };
}

const MUTATING = new Set(['write', 'truncate', 'unlink']);

/** Index of the event at which each victim was first damaged by an attacker (trace order). */
async function damageIndices(tracePath: string, labels: Labels): Promise<number[]> {
  const victims = new Map(labels.victims.map((v) => [path.join(labels.mountpoint, v.rel), v.rel]));
  const attackers = new Set(labels.attackerPids);
  const alias = new Map<string, string>();
  const damaged = new Map<string, number>();
  let i = 0;
  for await (const b of readTrace(tracePath, { batchSize: 4096 })) {
    for (const e of b.events) {
      if (attackers.has(e.pid) && e.result === 0) {
        const origin = victims.get(e.path) ?? alias.get(e.path);
        if (e.op === 'rename' && origin) alias.set(e.path2, origin);
        else if (origin && MUTATING.has(e.op) && !damaged.has(origin)) damaged.set(origin, i);
      }
      i++;
    }
  }
  return [...damaged.values()].sort((a, b) => a - b);
}

function isAttackerSubject(s: { kind: string; pid: number; sid: number }, labels: Labels): boolean {
  if (s.kind === 'process') return labels.attackerPids.includes(s.pid);
  return labels.attackerSids.includes(s.sid) || (s.pid !== 0 && labels.attackerPids.includes(s.pid));
}

export function rocAuc(pos: number[], neg: number[]): number | null {
  if (pos.length === 0 || neg.length === 0) return null;
  const all = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && (all[j] as { s: number }).s === (all[i] as { s: number }).s) j++;
    const avg = (i + j + 1) / 2; // 1-based average rank of the tie group
    for (let k = i; k < j; k++) if ((all[k] as { p: number }).p === 1) rankSum += avg;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

function roc(pos: number[], neg: number[], threshold: number): RocResult {
  const tp = pos.filter((s) => s >= threshold).length;
  const fp = neg.filter((s) => s >= threshold).length;
  const auc = rocAuc(pos, neg);
  return {
    positives: pos.length, negatives: neg.length, auc: auc === null ? null : Number(auc.toFixed(4)), threshold,
    precision: tp + fp > 0 ? Number((tp / (tp + fp)).toFixed(4)) : null,
    recall: pos.length > 0 ? Number((tp / pos.length).toFixed(4)) : null,
    fpr: neg.length > 0 ? Number((fp / neg.length).toFixed(4)) : null,
  };
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function evaluateCorpus(corpus: string, o: { modelsDir: string; batchEvents?: number; onScenario?: (name: string) => void }): Promise<EvalReport> {
  const dirs = fs.readdirSync(corpus, { withFileTypes: true }).filter((d) => d.isDirectory() && fs.existsSync(path.join(corpus, d.name, 'result.json'))).map((d) => d.name).sort();
  const scenarios: EvalScenario[] = [];
  const posByFamily = new Map<string, number[]>();
  const neg: number[] = [];
  let modelHashes: Record<string, string> = {};
  for (const name of dirs) {
    o.onScenario?.(name);
    const dir = path.join(corpus, name);
    const result = JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')) as ScenarioResult;
    const ev: EvalScenario = {
      scenario: name, kind: result.kind, family: result.family, events: result.traceEvents,
      live: { detected: result.detected, maxState: result.maxState, filesLost: result.kind === 'ransomware' ? result.filesLost : null, filesTotal: result.filesTotal, msToRestricted: result.msToRestricted, stoppedBy: result.stoppedBy, benignExit: result.benign?.exitCode ?? null, deniedOps: typeof result.fuse?.['denied'] === 'number' ? (result.fuse['denied'] as number) : null },
      replay: { detected: false, maxState: 'Normal', restrictedAtEvent: null, msToRestricted: null, filesLostBeforeRestricted: null, filesDamagedInTrace: 0, lowerBound: false },
      series: [],
    };
    if (result.skipped) ev.skipped = result.skipped;
    if (result.error) ev.error = result.error;
    const tracePath = path.join(dir, 'trace.jsonl');
    if (result.skipped || !fs.existsSync(tracePath) || !fs.existsSync(path.join(dir, 'labels.json'))) {
      scenarios.push(ev);
      continue;
    }
    const labels = JSON.parse(fs.readFileSync(path.join(dir, 'labels.json'), 'utf8')) as Labels;
    const rep = await replayTrace(tracePath, { modelsDir: o.modelsDir, batchEvents: o.batchEvents ?? 16 });
    modelHashes = rep.modelHashes;
    const relevant: ReplaySubject[] = result.kind === 'ransomware' ? rep.subjects.filter((s) => isAttackerSubject(s, labels)) : rep.subjects;
    ev.replay.maxState = STATES[relevant.reduce((m, s) => Math.max(m, idx(s.maxState)), 0)] ?? 'Normal';
    const firstR = relevant.flatMap((s) => s.transitions).filter((t) => idx(t.to) >= 2).sort((a, b) => a.eventIndex - b.eventIndex)[0];
    // Time zero: the attacker's first event (ransomware), else the trace's first event.
    let firstTs: bigint | undefined;
    const attackers = new Set(labels.attackerPids);
    scan: for await (const b of readTrace(tracePath, { batchSize: 1024 })) {
      for (const e of b.events) {
        if (attackers.size === 0 || attackers.has(e.pid)) {
          firstTs = e.ts;
          break scan;
        }
      }
    }
    if (result.bystander) {
      const others = rep.subjects.filter((s) => !isAttackerSubject(s, labels));
      ev.bystander = { live: result.bystander.maxState, replay: STATES[others.reduce((m, s) => Math.max(m, idx(s.maxState)), 0)] ?? 'Normal', exitCode: result.bystander.exitCode };
    }
    if (result.kind === 'ransomware') {
      ev.replay.detected = firstR !== undefined;
      const dmg = await damageIndices(tracePath, labels);
      ev.replay.filesDamagedInTrace = dmg.length;
      if (firstR) {
        ev.replay.restrictedAtEvent = firstR.eventIndex;
        ev.replay.filesLostBeforeRestricted = dmg.filter((i) => i <= firstR.eventIndex).length;
        if (firstTs !== undefined) ev.replay.msToRestricted = Number((BigInt(firstR.tsNs) - firstTs) / 1_000_000n);
      } else {
        ev.replay.filesLostBeforeRestricted = dmg.length;
        ev.replay.lowerBound = true;
      }
    }
    // Subject windows.
    const { rows, subjects } = await scoreRows(tracePath, o.modelsDir, o.batchEvents ?? 16);
    const info = new Map(subjects.map((s) => [s.id, s]));
    const attackerTrees = new Set(subjects.filter((s) => s.kind === 'process' && labels.attackerPids.includes(s.pid)).map((s) => s.treeId));
    const positive = (id: number): boolean => {
      const s = info.get(id);
      if (!s) return false;
      return s.kind === 'process' ? labels.attackerPids.includes(s.pid) : attackerTrees.has(s.id);
    };
    const fam = posByFamily.get(result.family) ?? [];
    const t0 = firstTs !== undefined ? Number(firstTs / 1_000_000n) : rows[0]?.tsMs ?? 0;
    for (const r of rows) {
      if (positive(r.subjectId)) fam.push(r.score);
      else neg.push(r.score);
      if (result.kind === 'benign' || positive(r.subjectId)) ev.series.push([Math.max(0, r.tsMs - t0), Number(r.score.toFixed(4))]);
    }
    if (result.kind === 'ransomware') posByFamily.set(result.family, fam);
    scenarios.push(ev);
  }
  const allPos = [...posByFamily.values()].flat();
  const enterR = DEFAULT_TRUST_POLICY.enter[1];
  const enterM = DEFAULT_TRUST_POLICY.enter[0];
  const byFamily: Record<string, RocResult> = {};
  for (const [f, p] of posByFamily) byFamily[f] = roc(p, neg, enterR);
  const ran = scenarios.filter((s) => !s.skipped && !s.error);
  const ransom = ran.filter((s) => s.kind === 'ransomware');
  const benign = ran.filter((s) => s.kind === 'benign');
  const lostLive = ransom.map((s) => s.live.filesLost ?? 0);
  const lostReplay = ransom.map((s) => s.replay.filesLostBeforeRestricted ?? 0);
  const goals = {
    allDetectedLive: ransom.length > 0 && ransom.every((s) => s.live.detected),
    allDetectedReplay: ransom.length > 0 && ransom.every((s) => s.replay.detected),
    medianLostLive: median(lostLive), worstLostLive: lostLive.length ? Math.max(...lostLive) : null,
    medianLostReplay: median(lostReplay), worstLostReplay: lostReplay.length ? Math.max(...lostReplay) : null,
    benignRestrictedLive: [...benign.filter((s) => idx(s.live.maxState) >= 2).map((s) => s.scenario), ...ransom.filter((s) => s.bystander && idx(s.bystander.live) >= 2).map((s) => `${s.scenario} (bystander)`)],
    benignRestrictedReplay: [...benign.filter((s) => idx(s.replay.maxState) >= 2).map((s) => s.scenario), ...ransom.filter((s) => s.bystander && idx(s.bystander.replay) >= 2).map((s) => `${s.scenario} (bystander)`)],
    met: false,
  };
  goals.met = goals.allDetectedLive && (goals.medianLostLive ?? 99) <= 3 && (goals.worstLostLive ?? 99) <= 10 && goals.benignRestrictedLive.length === 0;
  return { corpus, modelHashes, scenarios, windows: { overall: roc(allPos, neg, enterR), monitoring: roc(allPos, neg, enterM), byFamily }, goals };
}

const fmt = (x: number | null | undefined, d = 3): string => (x === null || x === undefined ? '-' : Number.isInteger(x) && d === 0 ? String(x) : x.toFixed(d));
const n = (x: number | null | undefined): string => fmt(x, 0);

export function evalTable(r: EvalReport): string {
  const out: string[] = [];
  out.push('scenario        kind        family         events  detected(live/replay)  lost live  lost replay  ms→Restricted live/replay  max state live/replay  denied ops');
  const order = [...r.scenarios].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'ransomware' ? -1 : 1));
  for (const s of order) {
    if (s.skipped) {
      out.push(`${s.scenario.padEnd(15)} ${s.kind.padEnd(11)} ${s.family.padEnd(14)} skipped: ${s.skipped}`);
      continue;
    }
    const det = s.kind === 'ransomware' ? `${s.live.detected ? 'yes' : 'NO'}/${s.replay.detected ? 'yes' : 'NO'}` : '-';
    const lostL = s.kind === 'ransomware' ? `${n(s.live.filesLost)}/${s.live.filesTotal}` : '-';
    const lostR = s.kind === 'ransomware' ? `${n(s.replay.filesLostBeforeRestricted)}${s.replay.lowerBound ? '+' : ''}` : '-';
    const ms = s.kind === 'ransomware' ? `${n(s.live.msToRestricted)}/${n(s.replay.msToRestricted)}` : '-';
    out.push(`${s.scenario.padEnd(15)} ${s.kind.padEnd(11)} ${s.family.padEnd(14)} ${String(s.events).padEnd(7)} ${det.padEnd(22)} ${lostL.padEnd(10)} ${lostR.padEnd(12)} ${ms.padEnd(26)} ${`${s.live.maxState}/${s.replay.maxState}`.padEnd(22)} ${n(s.live.deniedOps)}${s.error ? '  ERROR: ' + s.error : ''}${s.live.benignExit ? `  (workload exit ${s.live.benignExit})` : ''}${s.bystander ? `  bystander max ${s.bystander.live}/${s.bystander.replay}, exit ${String(s.bystander.exitCode)}` : ''}`);
  }
  const w = r.windows;
  out.push('', `subject windows: ${w.overall.positives} attacker rows, ${w.overall.negatives} benign rows`);
  out.push(`  ROC AUC ${fmt(w.overall.auc)}; at score >= ${w.overall.threshold} (enter Restricted): precision ${fmt(w.overall.precision)} recall ${fmt(w.overall.recall)} FPR ${fmt(w.overall.fpr)}`);
  out.push(`  at score >= ${w.monitoring.threshold} (enter Monitoring): precision ${fmt(w.monitoring.precision)} recall ${fmt(w.monitoring.recall)} FPR ${fmt(w.monitoring.fpr)}`);
  out.push('  by family (that family\'s attacker rows vs all benign rows):');
  for (const [f, x] of Object.entries(w.byFamily)) out.push(`    ${f.padEnd(14)} rows ${String(x.positives).padEnd(6)} AUC ${fmt(x.auc)}  precision ${fmt(x.precision)}  recall ${fmt(x.recall)}`);
  const g = r.goals;
  out.push('', 'goals (issue 4):');
  out.push(`  every ransomware scenario reaches Restricted: live ${g.allDetectedLive ? 'yes' : 'NO'}, replay ${g.allDetectedReplay ? 'yes' : 'NO'}`);
  out.push(`  files lost median <= 3 / worst <= 10: live ${fmt(g.medianLostLive, 1)} / ${n(g.worstLostLive)}, replay ${fmt(g.medianLostReplay, 1)} / ${n(g.worstLostReplay)}`);
  out.push(`  no benign scenario reaches Restricted: live ${g.benignRestrictedLive.length ? 'NO (' + g.benignRestrictedLive.join(', ') + ')' : 'yes'}, replay ${g.benignRestrictedReplay.length ? 'NO (' + g.benignRestrictedReplay.join(', ') + ')' : 'yes'}`);
  out.push(`  all goals met (live): ${g.met ? 'yes' : 'NO'}`);
  return out.join('\n') + '\n';
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function barChart(r: EvalReport): string {
  const rs = r.scenarios.filter((s) => s.kind === 'ransomware' && !s.skipped);
  const max = Math.max(10, ...rs.map((s) => Math.max(s.live.filesLost ?? 0, s.replay.filesLostBeforeRestricted ?? 0)));
  const W = 60 + rs.length * 56;
  const H = 260;
  const y = (v: number): number => 220 - (v / max) * 200;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 40}" font-family="sans-serif" font-size="10">`];
  parts.push(`<line x1="40" y1="220" x2="${W}" y2="220" stroke="#000"/><line x1="40" y1="20" x2="40" y2="220" stroke="#000"/>`);
  for (const g of [3, 10]) parts.push(`<line x1="40" x2="${W}" y1="${y(g)}" y2="${y(g)}" stroke="${g === 3 ? '#2a2' : '#c22'}" stroke-dasharray="4 3"/><text x="2" y="${y(g) + 3}">${g}</text>`);
  parts.push(`<text x="2" y="24">${max}</text>`);
  rs.forEach((s, i) => {
    const x = 50 + i * 56;
    const l = s.live.filesLost ?? 0;
    const p = s.replay.filesLostBeforeRestricted ?? 0;
    parts.push(`<rect x="${x}" y="${y(l)}" width="20" height="${220 - y(l)}" fill="#d9534f"><title>live ${l}</title></rect>`);
    parts.push(`<rect x="${x + 22}" y="${y(p)}" width="20" height="${220 - y(p)}" fill="#5b7fd9"><title>replay ${p}</title></rect>`);
    parts.push(`<text transform="translate(${x + 20},${232}) rotate(40)">${esc(s.scenario)}</text>`);
  });
  parts.push(`<rect x="${W - 150}" y="4" width="10" height="10" fill="#d9534f"/><text x="${W - 136}" y="13">live (real blocking)</text>`);
  parts.push(`<rect x="${W - 150}" y="18" width="10" height="10" fill="#5b7fd9"/><text x="${W - 136}" y="27">replay estimate</text></svg>`);
  return parts.join('');
}

function scoreChart(s: EvalScenario): string {
  const pts = s.series;
  const W = 420;
  const H = 140;
  const maxT = Math.max(1, ...pts.map((p) => p[0]));
  const x = (t: number): number => 30 + (t / maxT) * (W - 40);
  const y = (v: number): number => 10 + (1 - v) * (H - 30);
  const dots = pts.slice(0, 4000).map((p) => `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="1.5" fill="${s.kind === 'ransomware' ? '#d9534f' : '#5b7fd9'}"/>`).join('');
  const lines = [DEFAULT_TRUST_POLICY.enter[0], DEFAULT_TRUST_POLICY.enter[1]].map((v) => `<line x1="30" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#999" stroke-dasharray="3 3"/><text x="0" y="${y(v) + 3}">${v}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="9"><rect x="30" y="10" width="${W - 40}" height="${H - 30}" fill="none" stroke="#ccc"/>${lines}${dots}<text x="30" y="${H - 6}">0 ms</text><text x="${W - 60}" y="${H - 6}">${maxT} ms</text></svg>`;
}

export function evalHtml(r: EvalReport): string {
  const table = esc(evalTable(r));
  const charts = r.scenarios.filter((s) => !s.skipped && s.series.length > 0).map((s) => `<div class="c"><h3>${esc(s.scenario)} (${s.kind})</h3>${scoreChart(s)}</div>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sentinel lab evaluation</title><style>body{font-family:sans-serif;margin:20px}pre{background:#f6f6f6;padding:10px;overflow:auto}.c{display:inline-block;margin:6px;vertical-align:top}h3{font-size:13px;margin:2px}</style></head><body>
<h1>Sentinel lab evaluation</h1><p>corpus: ${esc(r.corpus)}; models: ${esc(JSON.stringify(r.modelHashes))}</p>
<h2>Summary</h2><pre>${table}</pre>
<h2>Files lost per ransomware scenario</h2>${barChart(r)}
<h2>Score over time (attacker subjects in red, benign subjects in blue; dashed: enter Monitoring / Restricted)</h2>${charts}
</body></html>
`;
}
