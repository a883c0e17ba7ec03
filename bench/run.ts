/**
 * `npm run bench [-- --json] [-- --only native,e2e,fuse,bio]`: runs every benchmark case and prints
 * a table (or one JSON array of {name, unit, value}). Ratios are always against a baseline
 * measured in the same run, since the machines are shared and noisy.
 */
import type { BenchCase, BenchRow } from './types.js';

const CASES: Record<string, () => Promise<{ run: BenchCase }>> = {
  native: () => import('./cases/native.js'),
  e2e: () => import('./cases/e2e.js'),
  fuse: () => import('./cases/fuse.js'),
  bio: () => import('./cases/bio.js'),
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : Object.keys(CASES);
  const rows: BenchRow[] = [];
  for (const name of only) {
    const load = CASES[name];
    if (!load) throw new Error(`unknown bench case "${name}" (have: ${Object.keys(CASES).join(', ')})`);
    let mod: { run: BenchCase };
    try {
      mod = await load();
    } catch (err) {
      process.stderr.write(`bench: case ${name} is not available: ${(err as Error).message}\n`);
      continue;
    }
    if (!json) process.stderr.write(`bench: running ${name}...\n`);
    rows.push(...(await mod.run()));
  }
  if (json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  const w = Math.max(...rows.map((r) => r.name.length), 4);
  process.stdout.write(`${'name'.padEnd(w)}  ${'value'.padStart(14)}  unit\n`);
  for (const r of rows) {
    const v = Math.abs(r.value) >= 1000 ? Math.round(r.value).toLocaleString('en-US') : r.value.toPrecision(4);
    process.stdout.write(`${r.name.padEnd(w)}  ${v.padStart(14)}  ${r.unit}\n`);
  }
}

await main();
