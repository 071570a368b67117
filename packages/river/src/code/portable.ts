/**
 * The sending side of "code travels with what it uses": for a function or class about to be
 * shipped as source, the imports of its module that its source uses (see import-binding.ts).
 *
 * The function's module is found through V8 (function-origin.ts), its imports are read from the
 * module's source as it ran (module-imports.ts), and each free variable of the function's own
 * source that the module bound to an import becomes an ImportBinding: Node builtins and npm
 * packages are required again where the code runs; the user's own modules travel as a bundle.
 * Variables of the module that are not imports (its own functions, constants, state) do not
 * travel: inject them, or pass them as arguments.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ImportError } from '../errors/import-error';
import { bundleModule } from './bundle';
import { freeVariables } from './free-variables';
import { functionOrigin } from './function-origin';
import { describeImport, type ImportBinding, type ImportedModule } from './import-binding';
import { moduleImports, type ModuleImport, type ModuleScope } from './module-imports';

const byFunction = new WeakMap<Function, ImportBinding[]>();
const byText = new Map<string, ImportBinding[]>();
const byScript = new Map<string, ModuleScope>();
/** Scripts this realm evaluated from shipped code: their bindings, for code that travels on. */
const shippedScripts = new Map<string, ImportBinding[]>();

/** Records the bindings a script of shipped code was evaluated with (its `sourceURL`). */
export function rememberShippedScript(url: string, bindings: readonly ImportBinding[]): void {
  if (bindings.length === 0) return;
  // Several pieces of code from one user module compile under its file name: keep them all.
  const known = shippedScripts.get(url) ?? [];
  for (const b of bindings) if (!known.some((k) => k.name === b.name)) known.push(b);
  shippedScripts.set(url, known);
}

export function isBuiltinSpecifier(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier);
}

function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..' || specifier.startsWith('file:') || isAbsolute(specifier);
}

function fileOf(url: string): string | undefined {
  if (url.startsWith('file:')) return fileURLToPath(url);
  return isAbsolute(url) ? url : undefined;
}

/**
 * The imports `fn`'s source uses. `user` names it in errors ("inject: argument 2 (foo)").
 * Throws ImportError for an import that cannot travel (a user module that cannot be bundled).
 */
export function importsOf(fn: Function, user: string): ImportBinding[] {
  const cached = byFunction.get(fn);
  if (cached) return cached;
  // The same code made afresh (a closure per call) has the same imports: see functionOrigin.
  const text = Function.prototype.toString.call(fn);
  let bindings = byText.get(text);
  if (!bindings) {
    bindings = findImports(fn, user);
    if (byText.size >= 1000) byText.delete(byText.keys().next().value!);
    byText.set(text, bindings);
  }
  byFunction.set(fn, bindings);
  return bindings;
}

function findImports(fn: Function, user: string): ImportBinding[] {
  const free = freeVariables(Function.prototype.toString.call(fn));
  if (!free || free.size === 0) return [];
  const origin = functionOrigin(fn);
  if (!origin) return [];
  const shipped = shippedScripts.get(origin.url) ?? shippedScripts.get(fileOf(origin.url) ?? '');
  if (shipped) return shipped.filter((b) => free.has(b.name));
  let module = byScript.get(origin.url || origin.source);
  if (!module) {
    module = moduleImports(origin.source);
    byScript.set(origin.url || origin.source, module);
  }
  if (module.imports.size === 0) return [];
  const file = fileOf(origin.url);
  const out: ImportBinding[] = [];
  // The module's scope: the outermost one holding any of its imports (outside it there are only
  // a loader's wrapper and the globals).
  let moduleScope = -1;
  origin.scopes.forEach((names, i) => {
    if (names.some((n) => module!.imports.has(n))) moduleScope = i;
  });
  for (const name of free) {
    const found = module.imports.get(name);
    if (!found) continue;
    // A function around this one that declares the same name shadows the module's import of it.
    const holder = origin.scopes.findIndex((names) => names.includes(name));
    if (holder !== -1 && holder < moduleScope) continue;
    const resolved = moduleFor(found, file, `${user} (its import of ${describeImport(found)})`);
    out.push({ name, ...found, ...(resolved.specifier ? { specifier: resolved.specifier } : {}), module: resolved.module });
  }
  return out;
}


/**
 * Packages every receiver has loaded itself (River's own; a layer above adds its own with
 * `shareLoadedPackage`): a path import into one of them (`../src` in the package's own tests)
 * is bound to the receiver's copy, never bundled.
 */
const loadedPackages = new Set(['@river/engine', '@river/sfm']);

export function shareLoadedPackage(name: string): void {
  loadedPackages.add(name);
}

/** `../src/internal` inside @river/engine → '@river/engine/internal'; undefined outside them. */
function loadedPackageSpecifier(specifier: string, importer: string): string | undefined {
  const target = resolve(dirname(importer), specifier);
  for (let dir = target; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    let name: unknown;
    try {
      name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
    } catch {
      return undefined;
    }
    if (typeof name !== 'string' || !loadedPackages.has(name)) return undefined;
    // Only the package's own code (src/, dist/): its tests and fixtures are the user's modules.
    const inner = relative(dir, target).split(sep).join('/').replace(/\.[cm]?[jt]s$/, '');
    if (!/^(?:src|dist)(?:\/|$)/.test(inner)) return undefined;
    return /^(?:src|dist)\/internal$/.test(inner) ? `${name}/internal` : name;
  }
  return undefined;
}

function moduleFor(found: ModuleImport, file: string | undefined, user: string): { module: ImportedModule; specifier?: string } {
  if (isBuiltinSpecifier(found.specifier)) return { module: { kind: 'builtin' } };
  if (!isPathSpecifier(found.specifier)) return { module: { kind: 'package' } };
  // An absolute path needs no importer to resolve from (code from `node -e`, a REPL).
  const importer = file ?? (isAbsolute(found.specifier) ? join(process.cwd(), '[eval]') : undefined);
  if (!importer) {
    throw new ImportError({ message: `${user}: the module that defines it has no file to resolve '${found.specifier}' from` });
  }
  const loaded = loadedPackageSpecifier(found.specifier, importer);
  if (loaded) return { module: { kind: 'package' }, specifier: loaded };
  return { module: bundleModule(found.specifier, importer, user) };
}
