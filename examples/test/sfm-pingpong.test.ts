import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

// Runs the compiled example (`pnpm --filter @trickle/examples build` first) as a user would.
const script = join(__dirname, '..', 'dist', 'sfm-pingpong.js');

test('sfm-pingpong: replies arrive in reverse order and are picked by id', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
  expect(stderr).toBe('');
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^parent: listening on 127\.0\.0\.1:\d+$/);
  expect(lines.slice(1)).toEqual([
    'parent: sent 4 pings',
    'parent: the child answered in the order 4, 3, 2, 1; 4 pongs queued',
    'parent: pong 1: √9 = 3',
    'parent: pong 2: √16 = 4',
    'parent: pong 3: √25 = 5',
    'parent: ping 4 failed remotely: RangeError: no real square root of -1',
    'parent: no pong 99 within 100 ms (ERR_TIMEOUT)',
    'parent: child exited with code 0',
  ]);
});
