import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, defaultConfig } from '../../daemon/config.js';
import { SentinelError } from '../../src/errors.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function withFile(json: unknown): string {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-cfg-'));
  const f = path.join(dir, 'config.json');
  writeFileSync(f, typeof json === 'string' ? json : JSON.stringify(json));
  return f;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SentinelError ? `${err.code}: ${err.message}` : String(err);
  }
  return undefined;
}

describe('configuration', () => {
  it('embeds defaults under the checkout data dir', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-cfg-'));
    const c = defaultConfig();
    expect(path.basename(c.dataDir)).toBe('data');
    expect(c.socket.path).toBe(path.join(c.dataDir, 'sentinel.sock'));
    expect(c.database.path).toBe(path.join(c.dataDir, 'sentinel.db'));
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.socket.mode).toBe(0o660);
  });

  it('merges a file, resolving relative paths against it, and lets flags override', () => {
    const f = withFile({ dataDir: 'state', socket: { path: 'run/s.sock' }, engine: { dueEveryEvents: 8 }, policy: { decayMs: 5 } });
    const c = loadConfig(f, { httpPort: 0 });
    expect(c.dataDir).toBe(path.join(dir, 'state'));
    expect(c.socket.path).toBe(path.join(dir, 'run/s.sock'));
    expect(c.database.path).toBe(path.join(dir, 'state', 'sentinel.db'));
    expect(c.engine.dueEveryEvents).toBe(8);
    expect(c.engine.maxSubjects).toBe(defaultConfig().engine.maxSubjects);
    expect(c.policy).toEqual({ decayMs: 5 });
    expect(c.http.port).toBe(0);
  });

  it('rejects unknown keys, wrong types, bad JSON and missing files, naming the key', () => {
    expect(codeOf(() => loadConfig(withFile({ sockett: {} })))).toMatch(/^SENTINEL_E_CONFIG: config sockett: unknown key/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ engine: { dueEveryEvents: '8' } })))).toMatch(/config engine\.dueEveryEvents: must be a number/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ socket: { allowUids: ['root'] } })))).toMatch(/socket\.allowUids\[0\]: must be a number/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile('{ not json')))).toMatch(/is not valid JSON/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ http: { port: 70000 } })))).toMatch(/http\.port: must be an integer/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseDevices: 'all' } })))).toMatch(
      /^SENTINEL_E_CONFIG: config biometrics\.mouseDevices: must be "enrolled" or "any", got "all"/,
    );
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseDevices: true } })))).toMatch(/config biometrics\.mouseDevices: must be a string/);
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { mouseDevices: 'any' } })).biometrics.mouseDevices).toBe('any');
    expect(defaultConfig().biometrics.mouseDevices).toBe('enrolled');
    rmSync(dir, { recursive: true });
    // mouseLearnActions: 0 (off) or a sitting size up to the profile's cap; default 500.
    expect(defaultConfig().biometrics.mouseLearnActions).toBe(500);
    for (const bad of [-1, 1.5, 20_001]) {
      expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseLearnActions: bad } })))).toMatch(
        /^SENTINEL_E_CONFIG: config biometrics\.mouseLearnActions: must be 0 \(the daemon does not learn the mouse by use\) or an integer of mouse actions per learned sitting up to 20000/,
      );
      rmSync(dir, { recursive: true });
    }
    expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseLearnActions: '1000' } })))).toMatch(/config biometrics\.mouseLearnActions: must be a number/);
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { mouseLearnActions: 0 } })).biometrics.mouseLearnActions).toBe(0);
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { mouseLearnActions: 400 } })).biometrics.mouseLearnActions).toBe(400);
    rmSync(dir, { recursive: true });
    // Smoothing per modality: defaults, one number for all, per-modality objects, bad values.
    expect(defaultConfig().biometrics.emaAlpha).toEqual({ keystroke: 0.5, mouse: 0.1, mouseCohort: 0.1, app: 0.5 });
    expect(defaultConfig().biometrics.emaStart).toEqual({ keystroke: 0, mouse: 0.2, mouseCohort: 0.2, app: 0 });
    expect(defaultConfig().biometrics.mouseMinSittings).toBe(2);
    expect(loadConfig(withFile({ biometrics: { emaAlpha: 0.3, emaStart: 0 } })).biometrics).toMatchObject({
      emaAlpha: { keystroke: 0.3, mouse: 0.3, mouseCohort: 0.3, app: 0.3 },
      emaStart: { keystroke: 0, mouse: 0, mouseCohort: 0, app: 0 },
    });
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { emaAlpha: { mouse: 0.05 } } })).biometrics.emaAlpha).toEqual({ keystroke: 0.5, mouse: 0.05, mouseCohort: 0.1, app: 0.5 });
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { emaAlpha: { mouse: 0 } } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.emaAlpha\.mouse: must be in \(0, 1\]/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { emaAlpha: { pen: 0.5 } } })))).toMatch(/config biometrics\.emaAlpha\.pen: unknown key/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { emaStart: { mouse: 1 } } })))).toMatch(/config biometrics\.emaStart\.mouse: must be in \[0, 1\)/);
    rmSync(dir, { recursive: true });
    // Fusion weights per modality: defaults, one changed, out of range, all zero, unknown.
    expect(defaultConfig().biometrics.weights).toEqual({ keystroke: 1, mouse: 1, mouseCohort: 1, app: 0.5 });
    expect(loadConfig(withFile({ biometrics: { weights: { app: 0 } } })).biometrics.weights).toEqual({ keystroke: 1, mouse: 1, mouseCohort: 1, app: 0 });
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { weights: { mouse: -0.5 } } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.weights\.mouse: must be a fusion weight from 0/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { weights: { keystroke: 0, mouse: 0, mouseCohort: 0, app: 0 } } })))).toMatch(/config biometrics\.weights: at least one modality/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { weights: { pen: 1 } } })))).toMatch(/config biometrics\.weights\.pen: unknown key/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { weights: 1 } })))).toMatch(/config biometrics\.weights: must be an object/);
    rmSync(dir, { recursive: true });
    for (const bad of [0, 1.5, 1001]) {
      expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseMinSittings: bad } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.mouseMinSittings: must be an integer from 1/);
      rmSync(dir, { recursive: true });
    }
    // The several-users mouse model: on by default, a boolean.
    expect(defaultConfig().biometrics.mouseCohort).toBe(true);
    expect(loadConfig(withFile({ biometrics: { mouseCohort: false } })).biometrics.mouseCohort).toBe(false);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseCohort: 'yes' } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.mouseCohort: /);
    rmSync(dir, { recursive: true });
    expect(defaultConfig().biometrics.mouseCohortRounds).toBe(200);
    for (const bad of [0, 2.5, 2001]) {
      expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseCohortRounds: bad } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.mouseCohortRounds: must be an integer/);
      rmSync(dir, { recursive: true });
    }
    expect(defaultConfig().biometrics.mouseCohortActions).toBe(20_000);
    expect(loadConfig(withFile({ biometrics: { mouseCohortActions: 4000 } })).biometrics.mouseCohortActions).toBe(4000);
    rmSync(dir, { recursive: true });
    for (const bad of [199, 4000.5, 20_001]) {
      expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseCohortActions: bad } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.mouseCohortActions: must be an integer of enrolled mouse actions per user from 200 to 20000/);
      rmSync(dir, { recursive: true });
    }
    expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseCohortActions: '4000' } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.mouseCohortActions: must be a number/);
    rmSync(dir, { recursive: true });
    // The models directory is the daemon's top-level one, not a biometrics key.
    expect(codeOf(() => loadConfig(withFile({ biometrics: { modelsDir: '/tmp' } })))).toMatch(/config biometrics\.modelsDir: unknown key/);
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(path.join(dir, 'nope.json')))).toMatch(/cannot read config file/);
  });

  it('keeps one profile per user in biometrics.profileDir and follows the seat by default', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-cfg-'));
    const b = defaultConfig(dir).biometrics;
    expect(b).toMatchObject({ profileDir: path.join(dir, 'profiles'), user: '', seatFile: '/run/systemd/seats/seat0' });
    rmSync(dir, { recursive: true });
    // Paths in a file are relative to it; "" turns seat following off.
    const f = withFile({ biometrics: { profileDir: 'p', seatFile: 'seats/seat0', user: 'alice' } });
    expect(loadConfig(f).biometrics).toMatchObject({ profileDir: path.join(dir, 'p'), seatFile: path.join(dir, 'seats', 'seat0'), user: 'alice' });
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { seatFile: '' } })).biometrics.seatFile).toBe('');
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { user: '../root' } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.user: user name "\.\.\/root" is not a login name/);
    rmSync(dir, { recursive: true });
    // The single-file setting of earlier releases says what replaced it.
    expect(codeOf(() => loadConfig(withFile({ biometrics: { profilePath: '/var/lib/sentinel/profiles/user.json' } })))).toMatch(
      /^SENTINEL_E_CONFIG: config biometrics\.profilePath: was replaced by biometrics\.profileDir, a folder of one <user>\.json per enrolled user/,
    );
  });

  it('takes the mouse background from the data folder by default, from a file relative to the config, or none', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-cfg-'));
    expect(defaultConfig(dir).biometrics.mouseBackground).toBe(path.join(dir, 'mouse-background.bin'));
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { mouseBackground: 'bg/background.bin' } })).biometrics.mouseBackground).toBe(path.join(dir, 'bg', 'background.bin'));
    rmSync(dir, { recursive: true });
    expect(loadConfig(withFile({ biometrics: { mouseBackground: 'none' } })).biometrics.mouseBackground).toBe('none');
    rmSync(dir, { recursive: true });
    expect(codeOf(() => loadConfig(withFile({ biometrics: { mouseBackground: false } })))).toMatch(/^SENTINEL_E_CONFIG: config biometrics\.mouseBackground: /);
  });
});
