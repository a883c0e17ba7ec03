/**
 * Monotonic counters and gauges for /metrics (Prometheus text format). A name may carry labels
 * in Prometheus syntax: `ingest_errors_total{code="SENTINEL_E_MALFORMED_EVENT"}`.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string): void {
    this.add(name, 1);
  }

  add(name: string, n: number): void {
    this.values.set(name, (this.values.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values);
  }

  /** Prometheus exposition of counters (suffix _total) and the given gauges. */
  render(gauges: Record<string, number>, prefix = 'sentinel_'): string {
    const lines: string[] = [];
    const typed = new Set<string>();
    const emit = (name: string, value: number, kind: 'counter' | 'gauge'): void => {
      const base = name.replace(/\{.*$/, '');
      if (!typed.has(base)) {
        typed.add(base);
        lines.push(`# TYPE ${prefix}${base} ${kind}`);
      }
      lines.push(`${prefix}${name} ${Number.isFinite(value) ? value : 0}`);
    };
    for (const [k, v] of [...this.values].sort(([a], [b]) => a.localeCompare(b))) emit(k, v, 'counter');
    for (const [k, v] of Object.entries(gauges).sort(([a], [b]) => a.localeCompare(b))) emit(k, v, 'gauge');
    return lines.join('\n') + '\n';
  }
}
