/**
 * Turning shipped VR class source back into a class, inside the VR's worker.
 *
 * The source is `VRClass.toString()` from wherever the class was written. It is evaluated with
 * `VirtualResource`, `require` (resolving from the VM's working directory) and esbuild's `__name`
 * in scope, plus what the class uses from its module's imports (`deploy` finds those on the
 * sending side; see code/portable.ts): `class Counter extends Actor` with Actor imported from the
 * user's `./actor`, `ANY` from @river/sfm, `createHash` from node:crypto — under whatever name
 * the compiler gave them (`engine_1`, `import_sfm`, or the name itself in an ES module).
 */
import { bindImports, workingDirectoryRequire } from '../code/bind-imports';
import type { ImportBinding } from '../code/import-binding';
import { compileShipped, type SourcePosition } from '../code/source-position';
import { rememberShippedScript } from '../code/portable';
import { DeployError } from '../errors/deploy-error';
import { ImportError } from '../errors/import-error';

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
  /** The class's import bindings, as deploy shipped them. */
  imports?: ImportBinding[];
  /** Where this runs, for messages (`VM <node id>`). */
  where?: string;
  /** Where the class was written: its stack frames here name that file and line. */
  position?: SourcePosition;
}

/** The `require` given to shipped code: resolves from the VM's working directory. */
export function vmRequire(): NodeRequire {
  return workingDirectoryRequire();
}

export function evaluateClass(source: string, scope: EvaluateScope): unknown {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new DeployError({ message: 'empty VR class source' });
  }
  const req = vmRequire();
  let bound: Record<string, unknown>;
  try {
    bound = bindImports(scope.imports, 'the VR class', { where: scope.where ?? 'this VM', require: req });
  } catch (error) {
    if (ImportError.isInstance(error)) throw error;
    throw new DeployError({ message: `the VR class's imports could not be bound: ${(error as Error).message}`, cause: error });
  }
  const names = ['VirtualResource', 'require', '__name', ...Object.keys(bound).filter((n) => n !== 'VirtualResource' && n !== 'require' && n !== '__name')];
  const values = [scope.VirtualResource, req, __name, ...names.slice(3).map((n) => bound[n])];
  // The class's own imports win over the defaults (an ESM class that imports VirtualResource).
  if ('VirtualResource' in bound) values[0] = bound.VirtualResource;
  let factory: (...args: unknown[]) => unknown;
  try {
    // The source starts on the body's line 2: its frames name the user's file and line.
    const compiled = compileShipped(`"use strict";\nreturn (${source}\n);`, names, scope.position, 2);
    factory = compiled.fn;
    // Code evaluated here that ships on (a child class it holds) takes the same imports along.
    rememberShippedScript(compiled.filename, scope.imports ?? []);
  } catch (error) {
    throw new DeployError({ message: `VR class source does not evaluate: ${(error as Error).message}`, cause: error });
  }
  let value: unknown;
  try {
    value = factory(...values);
  } catch (error) {
    throw new DeployError({ message: `VR class source threw while evaluating: ${(error as Error).message}`, cause: error });
  }
  if (typeof value !== 'function') {
    throw new DeployError({ message: `VR class source evaluated to ${typeof value}, not a class` });
  }
  return value;
}
