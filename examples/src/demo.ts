// What `pnpm demo` runs. For now: the SFM ping-pong between two processes.
import { runPingPong } from './sfm-pingpong';

runPingPong().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
