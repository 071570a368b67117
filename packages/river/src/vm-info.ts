/** What discovery knows about a River VM: enough to connect to it and to decide how to use it. */
export interface VMInfo {
  /** The VM's node id (a UUID), stable for the life of the VM process. */
  id: string;
  /** A human-readable name (`--name`, default `hostname:port`). */
  name: string;
  /** Host or IP address the VM listens on, as reachable by the discoverer. */
  host: string;
  port: number;
  /** How many VRs the VM is willing to run at once (default: its core count). */
  slots: number;
  /** Protocol/engine version string. */
  version: string;
}

/** True when `value` has the shape of a VMInfo (it came from another process: check before use). */
export function isVMInfo(value: unknown): value is VMInfo {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === 'string' && v.id.length > 0 && v.id.length <= 128 &&
    typeof v.name === 'string' && v.name.length <= 1024 &&
    typeof v.host === 'string' && v.host.length > 0 && v.host.length <= 255 &&
    Number.isInteger(v.port) && (v.port as number) > 0 && (v.port as number) < 65536 &&
    typeof v.slots === 'number' &&
    typeof v.version === 'string'
  );
}
