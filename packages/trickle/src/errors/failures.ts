import { describeFailure, type DiscoveryFailure } from '@river/engine';

/** `a: connection refused; vm-b (10.0.0.3:7000): wrong cluster key: …` — one line. */
export function describeFailures(failures: readonly DiscoveryFailure[]): string {
  return failures.map(describeFailure).join('; ');
}
