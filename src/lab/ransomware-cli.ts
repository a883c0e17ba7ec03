/**
 * node dist/src/lab/ransomware-cli.js --root DIR --scenario NAME --seed N [--victims DIR]
 *     [--delay-ms MS] [--workers N]      (attack: prints the AttackReport JSON on stdout)
 * node dist/src/lab/ransomware-cli.js --prepare --root DIR --seed N [--files N] [--size-scale X]
 *     (writes DIR/victims/…, prints the manifest JSON)
 * Exit codes: 0 ran (stopped or not), 2 usage or a path outside --root, 1 other failure.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { RANSOM_SCENARIOS, encryptFiles, ransomScenario, runAttack } from './ransomware.js';
import { PathRefused, SafeFs } from './safe-fs.js';
import { createVictims } from './victims.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' }, scenario: { type: 'string' }, seed: { type: 'string', default: '1' },
      victims: { type: 'string' }, 'delay-ms': { type: 'string' }, workers: { type: 'string' },
      prepare: { type: 'boolean' }, files: { type: 'string' }, 'size-scale': { type: 'string' },
      worker: { type: 'boolean' }, list: { type: 'boolean' },
    },
  });
  if (values.list) {
    process.stdout.write(JSON.stringify(RANSOM_SCENARIOS, null, 2) + '\n');
    return 0;
  }
  if (!values.root) {
    process.stderr.write('ransomware-cli: --root is required\n');
    return 2;
  }
  const seed = Number(values.seed);
  if (values.prepare) {
    const manifest = createVictims(values.root, { seed, ...(values.files ? { files: Number(values.files) } : {}), ...(values['size-scale'] ? { sizeScale: Number(values['size-scale']) } : {}) });
    process.stdout.write(JSON.stringify(manifest) + '\n');
    return 0;
  }
  const scenario = ransomScenario(values.scenario ?? '');
  if (!scenario) {
    process.stderr.write(`ransomware-cli: unknown --scenario ${values.scenario ?? ''} (one of ${RANSOM_SCENARIOS.map((s) => s.name).join(', ')})\n`);
    return 2;
  }
  const delayMs = values['delay-ms'] !== undefined ? Number(values['delay-ms']) : undefined;
  try {
    if (values.worker) {
      const files = JSON.parse(fs.readFileSync(0, 'utf8')) as string[];
      const safe = new SafeFs(values.root);
      process.stdout.write(JSON.stringify(encryptFiles(safe, scenario, files, seed, delayMs ?? 0)) + '\n');
      return 0;
    }
    const rep = await runAttack({
      root: values.root, scenario, seed,
      ...(values.victims ? { victims: values.victims } : {}),
      ...(delayMs !== undefined ? { delayMs } : {}),
      ...(values.workers ? { workers: Number(values.workers) } : {}),
    });
    process.stdout.write(JSON.stringify(rep) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof PathRefused) {
      process.stderr.write(`ransomware-cli: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main().then((c) => (process.exitCode = c), (err: unknown) => {
  process.stderr.write(`ransomware-cli: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
