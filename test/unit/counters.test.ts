import { describe, expect, it } from 'vitest';
import { Counters } from '../../daemon/counters.js';

describe('counters', () => {
  it('renders Prometheus text with one TYPE line per metric family', () => {
    const c = new Counters();
    c.inc('ingest_events_total');
    c.add('ingest_events_total', 4);
    c.add('ingest_errors_total{code="SENTINEL_E_BAD_MAGIC"}', 2);
    c.add('ingest_errors_total{code="SENTINEL_E_MALFORMED_EVENT"}', 3);
    const text = c.render({ subjects_live: 7, 'subjects{state="Lockdown"}': 1 });
    expect(text.split('\n').filter((l) => l.startsWith('# TYPE sentinel_ingest_errors_total'))).toHaveLength(1);
    expect(text).toContain('sentinel_ingest_events_total 5\n');
    expect(text).toContain('sentinel_ingest_errors_total{code="SENTINEL_E_MALFORMED_EVENT"} 3\n');
    expect(text).toContain('# TYPE sentinel_subjects_live gauge\nsentinel_subjects_live 7\n');
    expect(c.get('missing')).toBe(0);
  });
});
