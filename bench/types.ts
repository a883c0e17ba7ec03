/** One benchmark figure: `npm run bench -- --json` prints an array of these. */
export interface BenchRow {
  name: string;
  unit: string;
  value: number;
}
export type BenchCase = () => Promise<BenchRow[]>;
