/**
 * Where the RAI VR module is on this machine: `trickle vm` registers it as a River extension
 * (`{ 'trickle:rai': path }`), so initiators deploy it by name and no code path is shipped.
 */
import { join } from 'node:path';
import { RAI_EXTENSION } from './tags';

/** Runtime files are plain JavaScript in dist/, also when this module runs from src/ under ts-jest. */
function distDir(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '..', '..', 'dist', 'river') : __dirname;
}

export function trickleExtensions(): Record<string, string> {
  return { [RAI_EXTENSION]: join(distDir(), 'rai-vr.js') };
}

/** The `trickle` CLI's entry, used to start local VMs (`trickle vm`). */
export function trickleCliPath(): string {
  return join(distDir(), '..', 'cli.js');
}
