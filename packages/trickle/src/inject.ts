/**
 * `inject(vm | vms, ...items)`: copies functions, classes and data into the session namespace of
 * each VM. A function or class is injected under its own name (`inject(vm, foo, Stack)`); data
 * by key (`inject(vm, { table, names })`; a function given by key is injected as code under that
 * key). Code travels as source and is evaluated on the VM (see source.ts, server/evaluate.ts).
 *
 * Checked on the initiator, before anything is sent: anonymous functions, names given twice in
 * one call, native and bound functions, values that cannot cross.
 */
import { callSite } from './client/call-site';
import { InjectError, VMLostError } from './errors';
import { recordInjection, type LiveControls, type LiveVMs } from './scheduling/live-vms';
import type { InjectItem } from './protocol';
import { describeFunction, injectionName } from './source';
import type { Injectable, WithInjected } from './types';
import { clientOf } from './vm';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function ordinal(index: number): string {
  return `argument ${index + 2}`;
}

/** The items to send, named and checked. Values are made safe to send per VM later. */
function prepare(items: readonly unknown[]): Array<{ name: string; code?: ReturnType<typeof describeFunction>; value?: unknown }> {
  const prepared: Array<{ name: string; code?: ReturnType<typeof describeFunction>; value?: unknown }> = [];
  const seen = new Map<string, string>();
  const add = (name: string, from: string, entry: { code?: ReturnType<typeof describeFunction>; value?: unknown }) => {
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new InjectError(`inject: the name '${name}' is given twice (${earlier} and ${from}); each name can be injected once per call`, { item: name });
    }
    seen.set(name, from);
    prepared.push({ name, ...entry });
  };
  items.forEach((item, index) => {
    const from = ordinal(index);
    if (typeof item === 'function') {
      const code = describeFunction(item, `inject: ${from}`);
      add(injectionName(item, from), from, { code });
    } else if (isPlainObject(item)) {
      for (const [key, value] of Object.entries(item)) {
        const where = `key '${key}' of ${from}`;
        if (typeof value === 'function') add(key, where, { code: describeFunction(value, `inject ${key}`) });
        else add(key, where, { value });
      }
    } else {
      const kind = item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item === 'object' ? `an instance of ${(item as object).constructor?.name ?? 'a class'}` : `a ${typeof item}`;
      throw new InjectError(
        `inject: ${from} is ${kind}; inject takes functions and classes (injected under their names) and plain objects of data by key, e.g. inject(vm, { names })`,
      );
    }
  });
  return prepared;
}

/** A list from `connect()` stays disposable (`await using`), and live, through inject. */
type DisposableOf<L> = (L extends AsyncDisposable ? AsyncDisposable : unknown) &
  (L extends LiveVMs ? LiveVMs : unknown) &
  (L extends LiveControls ? LiveControls : unknown);

/**
 * Injects into one VM, or into every VM of a list (in parallel). Resolves with the same handle(s),
 * typed with what the object arguments added: `(await inject(vms, { foo })).map((vm) => vm.foo(10))`
 * is `Promise<number>[]`.
 */
export function inject<L extends readonly unknown[], I extends readonly Injectable[]>(
  vms: L,
  ...items: I
): Promise<WithInjected<L[number], I>[] & DisposableOf<L>>;
export function inject<V, I extends readonly Injectable[]>(vm: V, ...items: I): Promise<WithInjected<V, I>>;
export async function inject(target: unknown, ...items: unknown[]): Promise<unknown> {
  const site = callSite(inject);
  const list = Array.isArray(target) ? (target as unknown[]) : [target];
  const clients = list.map((vm, i) => clientOf(vm, Array.isArray(target) ? `inject: vms[${i}]` : 'inject: the first argument'));
  if (items.length === 0) throw new InjectError('inject: nothing to inject; pass functions, classes, or { name: value } objects after the VM(s)');
  const prepared = prepare(items);
  // A live list (connect({ watch: true })) replays this on VMs that join it later.
  const forget = recordInjection(target, items);
  try {
    await Promise.all(
      clients.map((client) => {
        const wire: InjectItem[] = prepared.map((item) =>
          item.code
            ? { name: item.name, as: 'code', code: item.code }
            : { name: item.name, as: 'value', value: client.exportValue(item.value, `inject ${item.name}`) },
        );
        return client.inject(wire, site);
      }),
    );
  } catch (error) {
    // Kept for VMs that join later unless the injection itself failed (a VM lost meanwhile is not that).
    if (!VMLostError.isInstance(error)) forget();
    throw error;
  }
  return target;
}
