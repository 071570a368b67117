/**
 * The counters a Trickle VM adds to River's metrics (`trickle vm --metrics-port P`). Each session
 * (a RAI VR in its worker) counts what it answers; River collects the counts once a second.
 */
import type { MetricDeclaration } from '@river/engine';

export const TRICKLE_METRICS = {
  requests: 'trickle_requests_total',
  failures: 'trickle_request_failures_total',
  chunks: 'trickle_chunks_served_total',
} as const;

export function trickleMetrics(): MetricDeclaration[] {
  return [
    { name: TRICKLE_METRICS.requests, help: 'requests answered by the sessions on this VM, by kind (call, get, set, construct, inject, release, stats, ping)', labelNames: ['kind'] },
    { name: TRICKLE_METRICS.failures, help: 'requests answered with an error, by kind and failure (the Trickle failure code, or ERROR for an error thrown by user code)', labelNames: ['kind', 'failure'] },
    { name: TRICKLE_METRICS.chunks, help: 'forkWork/forkGen chunks answered (successfully or not) by the sessions on this VM' },
  ];
}
