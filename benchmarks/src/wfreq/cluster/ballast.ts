// CPU ballast for an idle simulated machine: spins (within the machine's quota) so that the host
// is equally loaded whether 1 or 8 VMs work. On a small host the cores run slower per CPU-second
// when all of them are busy (shared caches, SMT siblings, a hypervisor's steal); without ballast a
// 1-VM run enjoys an idle host that an 8-VM run does not have, which understates speedups.
//
//   node dist/wfreq/cluster/ballast.js [--max-seconds 1800]
//
// Bounded: exits after --max-seconds, on SIGTERM/SIGINT, and when its stdin closes.
import { burn } from './test-vm';

function main(argv: string[]): void {
  const i = argv.indexOf('--max-seconds');
  const maxMs = Math.min(Number(i >= 0 ? argv[i + 1] : 1800), 7200) * 1000;
  const until = performance.now() + maxMs;
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.stdout.write('ballast\n');
  const slice = () => {
    if (performance.now() >= until) stop();
    const sliceEnd = performance.now() + 20;
    while (performance.now() < sliceEnd) burn(100_000);
    setImmediate(slice);
  };
  slice();
}

if (require.main === module) main(process.argv.slice(2));
