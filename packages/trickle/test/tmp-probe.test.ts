import { join } from 'node:path';
import { generateKey } from '@river/engine';
import { RawClient } from '../../river/test/fixtures/raw-client';
import { startVm } from '../../river/test/fixtures/vm-process';
import { FrameKind } from '../../river/src/protocol';
test('probe', async () => {
  const KEY = generateKey();
  await using vm = await startVm(['--host', '127.0.0.1'], { cli: join(__dirname, '..', 'dist', 'cli.js'), env: { RIVER_KEY: KEY } });
  const c = await RawClient.open(vm.port);
  await c.handshake(KEY);
  c.send([FrameKind.NOTICE, 'members', { members: [{ id: 'abc', host: 5, port: 1 }] }]);
  await new Promise((r) => setTimeout(r, 1000));
  console.log(vm.child.exitCode, vm.lines.join('\n'));
});
