/**
 * Turning shipped VR class source back into a class, inside the VR's worker.
 *
 * The source is `VRClass.toString()` from wherever the class was written. Compilers rewrite
 * imports into module objects: tsc/ts-jest emit `class X extends engine_1.VirtualResource` and
 * `(0, sfm_1.ANY)`, esbuild/tsx emit `import_engine.VirtualResource` and wrap functions in
 * `__name(fn, "name")`. So the source is evaluated with these in scope:
 * - `VirtualResource`, `require` (resolving from the VM's working directory), `__name`;
 * - every such module alias the source uses, bound to a namespace holding the exports of
 *   @river/engine and @river/sfm (and, for aliases of `node:` builtins, that builtin).
 */
import { createRequire } from 'node:module';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

import { DeployError } from '../errors/deploy-error';

const ALIAS = /\b((?:[A-Za-z_$][\w$]*_\d+)|(?:import_[\w$]+))\s*\./g;

/** esbuild's helper: `__name(fn, "name")` names a function or class and returns it. */
export function __name<T>(target: T, value: string): T {
  try {
    Object.defineProperty(target, 'name', { value, configurable: true });
  } catch {
    // a frozen target keeps its name
  }
  return target;
}

export interface EvaluateScope {
  VirtualResource: unknown;
  /** Exports offered to module aliases (`engine_1.X`, `import_sfm.Y`). */
  namespace: Record<string, unknown>;
}

/** The `require` given to shipped code: resolves from the VM's working directory. */
export function vmRequire(): NodeRequire {
  return createRequire(join(process.cwd(), '__river_vr__.js'));
}

export function evaluateClass(source: string, scope: EvaluateScope): unknown {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new DeployError({ message: 'empty VR class source' });
  }
  const req = vmRequire();
  const aliases = [...new Set([...source.matchAll(ALIAS)].map((m) => m[1]!))].filter(
    (a) => !['VirtualResource', 'require', '__name'].includes(a),
  );
  const values = aliases.map((alias) => aliasValue(alias, scope.namespace, req));
  let factory: (...args: unknown[]) => unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    factory = new Function('VirtualResource', 'require', '__name', ...aliases, `"use strict";\nreturn (${source}\n);`) as typeof factory;
  } catch (error) {
    throw new DeployError({ message: `VR class source does not evaluate: ${(error as Error).message}`, cause: error });
  }
  let value: unknown;
  try {
    value = factory(scope.VirtualResource, req, __name, ...values);
  } catch (error) {
    throw new DeployError({ message: `VR class source threw while evaluating: ${(error as Error).message}`, cause: error });
  }
  if (typeof value !== 'function') {
    throw new DeployError({ message: `VR class source evaluated to ${typeof value}, not a class` });
  }
  return value;
}

function aliasValue(alias: string, namespace: Record<string, unknown>, req: NodeRequire): unknown {
  // `node_fs_1` / `import_node_fs` → the builtin, when there is one by that name.
  const bare = alias.replace(/^import_/, '').replace(/_\d+$/, '');
  const candidates = [bare.replace(/^node_/, ''), bare.replace(/_/g, '/').replace(/^node\//, '')];
  for (const c of candidates) {
    if (builtinModules.includes(c)) {
      try {
        return req(`node:${c}`);
      } catch {
        // fall through
      }
    }
  }
  return namespace;
}
