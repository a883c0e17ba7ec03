/**
 * Drop alerts: once a second the daemon compares its loss counters with the last check; every
 * increase becomes an audit `drops` row and a warning log with SENTINEL_E_ALERT_DROPPED, so
 * nothing is dropped silently. Sync (one small SQLite transaction when something was dropped).
 */
import type { Logger } from 'pino';
import type { AuditStore } from '../src/audit/store.js';
import type { DropRecord } from '../src/audit/records.js';
import type { Counters } from './counters.js';

/** A loss counter: where it is lost, why, and how to read the running total. */
export interface LossSource {
  hop: string;
  reason: string;
  read: () => number;
}

export class DropAlerts {
  private readonly last: number[];

  constructor(private readonly sources: readonly LossSource[], private readonly audit: AuditStore, private readonly log: Logger, private readonly counters: Counters) {
    this.last = sources.map(() => 0);
  }

  /** Records and logs what was lost since the previous call; returns the new drop records. */
  check(nowMs: number): DropRecord[] {
    const drops: DropRecord[] = [];
    this.sources.forEach((s, i) => {
      const v = s.read();
      const delta = v - (this.last[i] as number);
      this.last[i] = v;
      if (delta > 0) drops.push({ atMs: nowMs, hop: s.hop, reason: s.reason, count: delta });
    });
    if (drops.length === 0) return drops;
    this.audit.writeTick({ transitions: [], actions: [], drops });
    for (const d of drops) {
      this.counters.inc('drop_alerts_total');
      this.log.warn({ 'error.code': 'SENTINEL_E_ALERT_DROPPED', hop: d.hop, reason: d.reason, count: d.count }, `drop alert: ${d.count} lost at ${d.hop} (${d.reason})`);
    }
    return drops;
  }
}
