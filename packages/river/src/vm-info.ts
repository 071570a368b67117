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
