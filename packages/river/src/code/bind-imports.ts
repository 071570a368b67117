/**
 * The receiving side of "code travels with what it uses": the values of a shipped function's
 * import bindings, taken from the modules where the code runs (see import-binding.ts).
 *
 * - Specifiers the receiver already has loaded (`known`: @river/engine and @river/sfm, plus what
 *   the layer above adds, e.g. @trickle/core) are bound to those copies.
 * - Node builtins and npm packages are required from the VM's working directory; a package that
 *   is not installed there is an ImportError naming the package, the identifier and the VM.
 * - The user's own modules arrive bundled; each bundle is evaluated once per realm (by id), so
 *   two functions that import the same module share its instance, as they did locally.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { ImportError } from '../errors/import-error';
import { describeImport, type ImportBinding, type ShippedModule } from './import-binding';

export interface ImportContext {
  /** Where the code runs, for messages: `VM 'lab-3'`. */
  where: string;
  /** Modules the receiver already has, by specifier. */
  known?: Record<string, unknown>;
  /** Requires packages and builtins (default: from the working directory). */
  require?: NodeRequire;
  /** Bundles evaluated so far in this realm, by id (default: one cache per realm). */
  modules?: Map<string, unknown>;
}

const realmModules = new Map<string, unknown>();

/** River's own packages, as the receiver has them loaded. */
function riverModules(): Record<string, unknown> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    '@river/engine': require('../index'),
    '@river/engine/internal': require('../internal'),
    '@river/sfm': require('@river/sfm'),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** `require` as shipped code gets it: resolves from the VM's working directory. */
export function workingDirectoryRequire(): NodeRequire {
  return createRequire(join(process.cwd(), '__river_shipped__.js'));
}

/**
 * Binds `bindings` for `user` (how the code is named in errors: "foo", "VR class Counter").
 * Returns name → value, to be put in scope around the shipped source.
 */
export function bindImports(bindings: readonly ImportBinding[] | undefined, user: string, context: ImportContext): Record<string, unknown> {
  const scope: Record<string, unknown> = {};
  if (!bindings || bindings.length === 0) return scope;
  const known = { ...riverModules(), ...context.known };
  const req = context.require ?? workingDirectoryRequire();
  const modules = context.modules ?? realmModules;
  const load = (specifier: string, binding: ImportBinding): unknown => {
    if (Object.prototype.hasOwnProperty.call(known, specifier)) return known[specifier];
    try {
      return req(specifier);
    } catch (error) {
      throw missing(specifier, binding, user, context.where, error);
    }
  };
  for (const binding of bindings) {
    if (!binding || typeof binding.name !== 'string' || typeof binding.specifier !== 'string') {
      throw new ImportError({ message: `${user}: a malformed import binding arrived with the code` });
    }
    const m = binding.module?.kind === 'bundle' ? evaluateBundle(binding.module, modules, (s) => load(s, binding), user) : load(binding.specifier, binding);
    scope[binding.name] = take(m, binding);
  }
  return scope;
}

function missing(specifier: string, binding: ImportBinding, user: string, where: string, error: unknown): ImportError {
  const code = (error as { code?: unknown })?.code;
  const pkg = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  const uses = `${user} uses '${binding.imported.replace(/^.* as /, '')}' (${describeImport(binding)})`;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    return new ImportError({
      message: `${uses}, but package '${pkg}' is not installed on ${where} (looked up from ${process.cwd()}): install it there (npm install ${pkg}), or start the VM in a directory where it is installed`,
      cause: error,
    });
  }
  return new ImportError({ message: `${uses}, but '${specifier}' failed to load on ${where}: ${(error as Error)?.message ?? String(error)}`, cause: error });
}

function evaluateBundle(bundle: ShippedModule, modules: Map<string, unknown>, load: (specifier: string) => unknown, user: string): unknown {
  if (typeof bundle.id !== 'string' || typeof bundle.code !== 'string') throw new ImportError({ message: `${user}: a malformed module bundle arrived with the code` });
  if (modules.has(bundle.id)) return modules.get(bundle.id);
  const module = { exports: {} as unknown };
  modules.set(bundle.id, module.exports);
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const factory = new Function('exports', 'require', 'module', '__filename', '__dirname', `${bundle.code}\n//# sourceURL=${bundle.file}`);
    const dir = bundle.file.replace(/[\\/][^\\/]*$/, '');
    factory(module.exports, load, module, bundle.file, dir);
  } catch (error) {
    modules.delete(bundle.id);
    if (ImportError.isInstance(error)) throw error;
    throw new ImportError({ message: `${user}: its module ${bundle.file} threw while loading on the VM: ${(error as Error)?.message ?? String(error)}`, cause: error });
  }
  modules.set(bundle.id, module.exports);
  return module.exports;
}

function isNamespace(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as Record<symbol, unknown>)[Symbol.toStringTag] === 'Module';
}

function esModule(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as { __esModule?: unknown }).__esModule === true;
}

function copyWithDefault(m: unknown, base: object = {}): Record<string, unknown> {
  const out = base as Record<string, unknown>;
  if (m !== null && (typeof m === 'object' || typeof m === 'function')) {
    for (const key of Object.getOwnPropertyNames(m)) {
      if (key === 'default' || Object.prototype.hasOwnProperty.call(out, key)) continue;
      Object.defineProperty(out, key, { get: () => (m as Record<string, unknown>)[key], enumerable: true });
    }
  }
  return out;
}

/** The binding's value from module exports `m`, as the compiler or Node bound it locally. */
function take(m: unknown, binding: ImportBinding): unknown {
  const fromBundle = binding.module?.kind === 'bundle';
  switch (binding.take) {
    case 'named':
      return (m as Record<string, unknown>)?.[binding.export ?? binding.name];
    case 'default':
      // Node: an ES module's default export; CommonJS module.exports. A bundle is CommonJS with __esModule.
      if (isNamespace(m) || (fromBundle && esModule(m))) return (m as { default?: unknown }).default;
      return m;
    case 'namespace':
      if (isNamespace(m) || (fromBundle && esModule(m))) return m;
      return copyWithDefault(m, { default: m });
    case 'module':
    default:
      return wrap(m, binding.wrap);
  }
}

function wrap(m: unknown, how: ImportBinding['wrap']): unknown {
  switch (how) {
    case 'importDefault':
      return esModule(m) ? m : { default: m };
    case 'importStar':
      return esModule(m) ? m : copyWithDefault(m, { default: m });
    case 'toESM':
    case 'toESMNode': {
      // esbuild's __toESM(mod, isNodeMode)
      const target = m != null ? Object.create(Object.getPrototypeOf(m)) : {};
      if (how === 'toESMNode' || !esModule(m)) Object.defineProperty(target, 'default', { value: m, enumerable: true });
      else if (m !== null && typeof m === 'object' && 'default' in m) Object.defineProperty(target, 'default', { get: () => (m as { default: unknown }).default, enumerable: true });
      return copyWithDefault(m, target);
    }
    default:
      return m;
  }
}
