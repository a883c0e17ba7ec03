import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashFile, sha256Hex } from '../../src/models/hash.js';
import { loadModel, parseManifest } from '../../src/models/manifest.js';
import { loadFusionModel } from '../../src/models/fusion-model.js';
import { loadHeuristicModel } from '../../src/models/heuristic-model.js';
import { fusionThreshold, loadKeystrokeFusion } from '../../src/models/keystroke-fusion-model.js';
import { Fusion } from '../../src/fusion/fusion.js';
import { HeuristicDetector } from '../../src/detectors/heuristic.js';
import { catchError } from '../support/catch-error.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sentinel-manifest-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeModel(file: string, content: string, over: Record<string, unknown> = {}): string {
  writeFileSync(path.join(dir, file), content);
  const manifest = { name: 'm', version: 'm-v1', kind: 'fusion', file, sha256: sha256Hex(Buffer.from(content)), featureSchemaVersion: 1, ...over };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return manifest.sha256;
}


describe('hashFile', () => {
  it('matches a one-shot sha256, across its 1 MiB read chunks', () => {
    const big = Buffer.alloc((1 << 20) * 2 + 17, 7);
    writeFileSync(path.join(dir, 'big'), big);
    expect(hashFile(path.join(dir, 'big'))).toBe(createHash('sha256').update(big).digest('hex'));
    writeFileSync(path.join(dir, 'empty'), '');
    expect(hashFile(path.join(dir, 'empty'))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
  it('throws SENTINEL_E_IO for a missing file', () => {
    expect(catchError(() => hashFile(path.join(dir, 'nope'))).code).toBe('SENTINEL_E_IO');
  });
});

describe('loadModel', () => {
  it('returns manifest and bytes when the hash matches', () => {
    const sha = writeModel('w.json', '{"a":1}', { metrics: { auc: 0.9 }, training: { rows: 10 }, extra: 'ignored' });
    const m = loadModel(dir);
    expect(m.manifest).toEqual({ name: 'm', version: 'm-v1', kind: 'fusion', file: 'w.json', sha256: sha, featureSchemaVersion: 1, metrics: { auc: 0.9 }, training: { rows: 10 } });
    expect(m.bytes.toString()).toBe('{"a":1}');
    expect(m.path).toBe(path.join(dir, 'w.json'));
  });

  it('refuses a file whose hash differs, naming the file and both hashes', () => {
    const sha = writeModel('w.json', '{"a":1}');
    writeFileSync(path.join(dir, 'w.json'), '{"a":2}');
    const err = catchError(() => loadModel(dir));
    expect(err.code).toBe('SENTINEL_E_CONFIG');
    expect(err.message).toContain(path.join(dir, 'w.json'));
    expect(err.message).toContain(sha);
    expect(err.message).toContain(sha256Hex(Buffer.from('{"a":2}')));
  });

  it('refuses missing or invalid manifests and missing model files', () => {
    expect(catchError(() => loadModel(dir)).message).toMatch(/cannot read model manifest/);
    writeFileSync(path.join(dir, 'manifest.json'), '{nope');
    expect(catchError(() => loadModel(dir)).message).toMatch(/not valid JSON/);
    writeModel('w.json', 'x', { file: 'missing.json' });
    expect(catchError(() => loadModel(dir)).message).toMatch(/cannot read model file .*missing\.json/);
  });

  it('validates every manifest field', () => {
    const ok = { name: 'n', version: 'v', kind: 'k', file: 'f', sha256: 'a'.repeat(64), featureSchemaVersion: 1 };
    const bad = (o: Record<string, unknown>, match: RegExp): void => {
      const err = catchError(() => parseManifest(o, 'where.json'));
      expect(err.code).toBe('SENTINEL_E_CONFIG');
      expect(err.message).toMatch(match);
    };
    expect(parseManifest(ok, 'x')).toEqual(ok);
    bad({ ...ok, name: '' }, /"name"/);
    bad({ ...ok, version: 3 }, /"version"/);
    bad({ ...ok, file: '../etc/passwd' }, /"file" must be a plain file name/);
    bad({ ...ok, sha256: 'A'.repeat(64) }, /"sha256"/);
    bad({ ...ok, featureSchemaVersion: 1.5 }, /featureSchemaVersion/);
    bad({ ...ok, metrics: { auc: 'high' } }, /metrics\.auc/);
    bad({ ...ok, training: [] }, /"training"/);
    bad([] as unknown as Record<string, unknown>, /JSON object/);
  });
});

describe('loadFusionModel', () => {
  it('loads bias and weights with the manifest version and hash', () => {
    const sha = writeModel('fusion.json', '{"version":"m-v1","bias":0.5,"weights":{"heuristic":2}}');
    expect(loadFusionModel(dir)).toEqual({ version: 'm-v1', sha256: sha, bias: 0.5, weights: { heuristic: 2 } });
  });
  it('refuses the wrong kind, a version mismatch and bad weights', () => {
    writeModel('fusion.json', '{"bias":0,"weights":{}}', { kind: 'onnx' });
    expect(catchError(() => loadFusionModel(dir)).message).toMatch(/kind is "onnx"/);
    writeModel('fusion.json', '{"version":"other","bias":0,"weights":{}}');
    expect(catchError(() => loadFusionModel(dir)).message).toMatch(/differs from the manifest/);
    writeModel('fusion.json', '{"bias":0,"weights":{"h":"1"}}');
    expect(catchError(() => loadFusionModel(dir)).message).toMatch(/weights\.h/);
    writeModel('fusion.json', '{"weights":{}}');
    expect(catchError(() => loadFusionModel(dir)).message).toMatch(/bias/);
  });
});

describe('loadHeuristicModel', () => {
  it('loads contributions with the manifest version and hash', () => {
    const sha = writeModel('weights.json', '{"version":"m-v1","description":"d","contributions":{"decoy":4,"entropy_rise":1}}', { kind: 'heuristic-weights' });
    const h = loadHeuristicModel(dir);
    expect([h.version, h.sha256, h.contributions]).toEqual(['m-v1', sha, { decoy: 4, entropy_rise: 1 }]);
    expect(new HeuristicDetector(h).version).toBe('m-v1');
  });
  it('refuses negative weights, a version mismatch and the wrong kind', () => {
    writeModel('weights.json', '{"contributions":{"decoy":-1}}', { kind: 'heuristic-weights' });
    expect(catchError(() => loadHeuristicModel(dir)).message).toMatch(/contributions\.decoy must be a finite number >= 0/);
    writeModel('weights.json', '{"version":"heuristic-v2","contributions":{}}', { kind: 'heuristic-weights' });
    expect(catchError(() => loadHeuristicModel(dir)).message).toMatch(/differs from the manifest/);
    writeModel('weights.json', '{"contributions":{}}', { kind: 'fusion' });
    expect(catchError(() => loadHeuristicModel(dir)).code).toBe('SENTINEL_E_CONFIG');
    writeModel('weights.json', '[1]', { kind: 'heuristic-weights' });
    expect(catchError(() => loadHeuristicModel(dir)).message).toMatch(/JSON object/);
  });
});

describe('shipped models', () => {
  it('models/fusion is the identity over the heuristic and its hash verifies', () => {
    const m = loadFusionModel(path.join(ROOT, 'models/fusion'));
    expect(m.bias).toBe(0);
    expect(m.weights).toEqual({ heuristic: 1 });
    expect(() => new Fusion([new HeuristicDetector({ version: 'h', sha256: 'a'.repeat(64) })], m)).not.toThrow();
  });

  it.runIf(existsSync(path.join(ROOT, 'models/heuristic/manifest.json')))('models/heuristic verifies and has non-negative weights', () => {
    const h = loadHeuristicModel(path.join(ROOT, 'models/heuristic'));
    expect(h.version).toBe('heuristic-v2');
    expect(Object.keys(h.contributions).length).toBeGreaterThan(0);
    expect(new HeuristicDetector(h).sha256).toBe(h.sha256);
  });
});

describe('loadKeystrokeFusion', () => {
  const quantiles = Array.from({ length: 99 }, (_, i) => -5 + i / 10);
  const entry = { fusedWeight: 0.7, similarityWeight: 40, bias: -30, genuineQuantiles: quantiles, genuineSd: 1.5 };
  const write = (content: unknown, over: Record<string, unknown> = {}): void => {
    mkdirSync(path.join(dir, 'keystroke-fusion'), { recursive: true });
    const text = JSON.stringify(content);
    writeFileSync(path.join(dir, 'keystroke-fusion', 'fusion.json'), text);
    const manifest = { name: 'keystroke-fusion', version: 'k-v1', kind: 'keystroke-fusion', file: 'fusion.json', sha256: sha256Hex(Buffer.from(text)), featureSchemaVersion: 1, ...over };
    writeFileSync(path.join(dir, 'keystroke-fusion', 'manifest.json'), JSON.stringify(manifest));
  };
  const fails = (content: unknown): string => {
    write(content);
    const err = catchError(() => loadKeystrokeFusion(dir));
    expect(err.code).toBe('SENTINEL_E_CONFIG');
    return err.message;
  };

  it('loads the shipped parameters, fit for the shipped embedder', () => {
    const m = loadKeystrokeFusion(path.join(ROOT, 'models'));
    const embedder = JSON.parse(readFileSync(path.join(ROOT, 'models', 'keystroke-embed', 'manifest.json'), 'utf8')) as { sha256: string };
    expect(m.embedderSha256).toBe(embedder.sha256);
    expect([...m.windows.keys()].sort((a, b) => a - b)).toEqual([50, 100, 200]);
  });

  it('reads a threshold for a false-reject rate between the percentiles', () => {
    write({ embedderSha256: 'd'.repeat(64), windows: { '100': entry } });
    const w = loadKeystrokeFusion(dir).windows.get(100)!;
    expect(fusionThreshold(w, 0.05)).toBeCloseTo(quantiles[4]!, 9);
    expect(fusionThreshold(w, 0.055)).toBeCloseTo((quantiles[4]! + quantiles[5]!) / 2, 9);
    expect(fusionThreshold(w, 0.001)).toBe(quantiles[0]); // below 1 %: the 1 % threshold
    expect(fusionThreshold(w, 0.999)).toBe(quantiles[98]);
  });

  it('refuses malformed parameters with the field named', () => {
    const sha = 'd'.repeat(64);
    expect(fails({ embedderSha256: 'x', windows: { '100': entry } })).toMatch(/embedderSha256/);
    expect(fails({ embedderSha256: sha, windows: {} })).toMatch(/"windows" is empty/);
    expect(fails({ embedderSha256: sha, windows: { abc: entry } })).toMatch(/windows key "abc"/);
    expect(fails({ embedderSha256: sha, windows: { '100': { ...entry, bias: 'x' } } })).toMatch(/windows\.100\.bias/);
    expect(fails({ embedderSha256: sha, windows: { '100': { ...entry, genuineQuantiles: quantiles.slice(1) } } })).toMatch(/genuineQuantiles must be 99/);
    expect(fails({ embedderSha256: sha, windows: { '100': { ...entry, genuineQuantiles: [...quantiles].reverse() } } })).toMatch(/non-decreasing/);
    expect(fails({ embedderSha256: sha, windows: { '100': { ...entry, genuineSd: 0 } } })).toMatch(/genuineSd must be > 0/);
    write({ embedderSha256: sha, windows: { '100': entry } }, { kind: 'fusion' });
    expect(catchError(() => loadKeystrokeFusion(dir)).message).toMatch(/kind is "fusion", expected "keystroke-fusion"/);
  });
});
