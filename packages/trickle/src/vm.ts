/**
 * VM handles: what `connect()` returns, one per VM. A handle is the remote proxy of its session
 * namespace (`vm.foo(10)`, `await vm.names`, `new vm.Stack()`); facts about the VM itself are
 * read with functions (`vmInfo(vm)`), so no property name is taken from the remote namespace.
 */
import { SessionClient } from './client/session-client';
import { stateOf } from './client/proxy';
import type { SessionStats } from './protocol';
import type { SessionLink, VMRef } from './session-link';
import type { VM } from './types';

const clients = new WeakMap<object, SessionClient>();

/** Opens a session client over `link` and returns its VM handle. */
export function createVM(link: SessionLink): VM {
  const client = new SessionClient(link);
  clients.set(client.handle, client);
  return client.handle as VM;
}

/** The session client behind a VM handle. Throws a TypeError for anything else. */
export function clientOf(vm: unknown, what = 'this'): SessionClient {
  const client = (typeof vm === 'function' || typeof vm === 'object') && vm !== null ? clients.get(vm) : undefined;
  if (!client) {
    const state = stateOf(vm);
    const hint = state ? ` (it is a remote ${state.root ? 'object or path' : 'path'}, not the VM handle itself)` : '';
    throw new TypeError(`${what} is not a VM handle${hint}; VM handles come from connect()`);
  }
  return client;
}

/** Makes `handle` (another VM handle of the same session, e.g. from withOptions) resolve to `client`. */
export function adoptHandle(handle: object, client: SessionClient): void {
  clients.set(handle, client);
}

export function isVM(value: unknown): boolean {
  return (typeof value === 'function' || typeof value === 'object') && value !== null && clients.has(value);
}

/** `{ id, name }` of the VM behind a handle. */
export function vmInfo(vm: VM): VMRef {
  const { id, name } = clientOf(vm, 'vmInfo(vm): vm').vm;
  return { id, name };
}

/** Ends the sessions: everything injected and every remote object on those VMs is dropped. */
export async function disconnect(vms: VM | readonly VM[]): Promise<void> {
  const list = Array.isArray(vms) ? (vms as readonly VM[]) : [vms as VM];
  await Promise.all(list.map((vm) => clientOf(vm, 'disconnect(vms): a VM').close()));
}

/**
 * Releases a remote object now, instead of when its proxy is garbage-collected. Resolves once
 * the VM has dropped it. The release is ordered after every request already made on that VM, so
 * calls in flight on the object complete first. Using the proxy afterwards fails with
 * CancelledError.
 */
export function release(remote: object): Promise<void> {
  const state = stateOf(remote);
  if (!state) return Promise.reject(new TypeError('release() takes a remote object (a proxy returned by a VM)'));
  return (state.host as unknown as Pick<SessionClient, 'release'>).release(state);
}

/** What the session on `vm` holds (remote objects and their reference counts). */
export function sessionStats(vm: VM): Promise<SessionStats> {
  return clientOf(vm, 'sessionStats(vm): vm').stats();
}

/** A list of VM handles that `await using` disconnects. */
export type VMList<V = VM> = V[] & AsyncDisposable;

export function vmList<V extends VM>(vms: V[]): VMList<V> {
  const list = vms as VMList<V>;
  Object.defineProperty(list, Symbol.asyncDispose, { value: () => disconnect(list), enumerable: false, configurable: true });
  return list;
}
