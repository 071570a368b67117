/**
 * The import bindings of a module, read from its source as it ran (after any compiler): ESM
 * `import` declarations and CommonJS `require()` bindings at the top level, including the
 * interop wrappers tsc (`__importStar`, `__importDefault`, tslib's) and esbuild (`__toESM`) put
 * around them.
 */
import type { Node, Options } from 'acorn';

import type { ImportBinding } from './import-binding';

type AnyNode = Node & Record<string, unknown>;

/** acorn, loaded when first needed (the receiving side never needs it). */
function parse(source: string, options: Options): Node {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('acorn') as typeof import('acorn')).parse(source, options);
}

/** An import binding before its module is resolved. */
export type ModuleImport = Omit<ImportBinding, 'module' | 'name'>;

const WRAPPERS: Record<string, ImportBinding['wrap']> = {
  __importStar: 'importStar',
  __importDefault: 'importDefault',
  __toESM: 'toESM',
};

export interface ModuleScope {
  /** Local name → how it was imported. */
  imports: Map<string, ModuleImport>;
  /** Every name the module declares at its top level (imports included). */
  declared: Set<string>;
}

/** The module's imports and top-level names. Empty when the source does not parse. */
export function moduleImports(source: string): ModuleScope {
  const out = new Map<string, ModuleImport>();
  // A CommonJS module's wrapper parameters (jest's adds `jest`) are module-level names too.
  const declared = new Set<string>(['module', 'exports', 'require', '__filename', '__dirname', 'jest']);
  const scope = { imports: out, declared };
  let program: AnyNode | undefined;
  for (const sourceType of ['module', 'script'] as const) {
    try {
      program = parse(source, {
        ecmaVersion: 'latest',
        sourceType,
        allowHashBang: true,
        allowReturnOutsideFunction: sourceType === 'script',
        allowAwaitOutsideFunction: true,
      }) as AnyNode;
      break;
    } catch {
      // CommonJS with a top-level return, or not JavaScript acorn knows
    }
  }
  if (!program) return scope;
  topLevel(program.body as AnyNode[], scope);
  return scope;
}

function topLevel(body: AnyNode[], { imports: out, declared }: ModuleScope): void {
  for (const statement of body) {
    const wrapped = moduleWrapper(statement, declared);
    if (wrapped) {
      topLevel(wrapped, { imports: out, declared });
      continue;
    }
    if ((statement.type === 'FunctionDeclaration' || statement.type === 'ClassDeclaration') && statement.id) {
      declared.add((statement.id as AnyNode).name as string);
    }
    if (statement.type === 'ImportDeclaration') {
      const specifier = String((statement.source as AnyNode).value);
      for (const s of statement.specifiers as AnyNode[]) {
        const local = (s.local as AnyNode).name as string;
        if (s.type === 'ImportDefaultSpecifier') out.set(local, { specifier, take: 'default', imported: local === 'default' ? 'default' : `default as ${local}` });
        else if (s.type === 'ImportNamespaceSpecifier') out.set(local, { specifier, take: 'namespace', imported: `* as ${local}` });
        else {
          const imported = s.imported as AnyNode;
          const name = imported.type === 'Identifier' ? (imported.name as string) : String(imported.value);
          out.set(local, { specifier, take: 'named', export: name, imported: name === local ? name : `${name} as ${local}` });
        }
      }
    } else if (statement.type === 'VariableDeclaration') {
      for (const d of statement.declarations as AnyNode[]) {
        declarePattern(d.id as AnyNode, declared);
        declarator(d, out);
      }
    }
  }
  for (const name of out.keys()) declared.add(name);
}

/**
 * The body of a wrapper some loaders put around a CommonJS module, which is the module's real top
 * level: tsx's `(() => { … })()`, jest's `({"Object.<anonymous>": function (module, exports, …) { … }})`.
 * The wrapper's parameters are module-level names too.
 */
function moduleWrapper(statement: AnyNode, declared: Set<string>): AnyNode[] | undefined {
  if (statement.type !== 'ExpressionStatement') return undefined;
  let fn = statement.expression as AnyNode;
  if (fn.type === 'CallExpression' && (fn.arguments as AnyNode[]).length === 0) fn = fn.callee as AnyNode;
  else if (fn.type === 'ObjectExpression' && (fn.properties as AnyNode[]).length === 1) fn = (fn.properties as AnyNode[])[0]!.value as AnyNode;
  if (!fn || (fn.type !== 'ArrowFunctionExpression' && fn.type !== 'FunctionExpression')) return undefined;
  const body = fn.body as AnyNode;
  if (body.type !== 'BlockStatement') return undefined;
  for (const p of fn.params as AnyNode[]) declarePattern(p, declared);
  return body.body as AnyNode[];
}

function declarePattern(node: AnyNode | null | undefined, declared: Set<string>): void {
  if (!node) return;
  if (node.type === 'Identifier') declared.add(node.name as string);
  else if (node.type === 'ObjectPattern') for (const p of node.properties as AnyNode[]) declarePattern((p.type === 'RestElement' ? p.argument : p.value) as AnyNode, declared);
  else if (node.type === 'ArrayPattern') for (const e of node.elements as (AnyNode | null)[]) declarePattern(e, declared);
  else if (node.type === 'RestElement') declarePattern(node.argument as AnyNode, declared);
  else if (node.type === 'AssignmentPattern') declarePattern(node.left as AnyNode, declared);
}

function declarator(d: AnyNode, out: Map<string, ModuleImport>): void {
  const init = d.init as AnyNode | null;
  const id = d.id as AnyNode;
  if (!init) return;
  if (id.type === 'ObjectPattern') {
    // const { createHash, sep: separator } = require('node:crypto')
    const specifier = requiredSpecifier(init);
    if (specifier === undefined) return;
    for (const p of id.properties as AnyNode[]) {
      if (p.type !== 'Property' || p.computed) continue;
      const key = p.key as AnyNode;
      const value = p.value as AnyNode;
      if (value.type !== 'Identifier') continue;
      const name = key.type === 'Identifier' ? (key.name as string) : String(key.value);
      out.set(value.name as string, { specifier, take: 'named', export: name, imported: name });
    }
    return;
  }
  if (id.type !== 'Identifier') return;
  const local = id.name as string;
  const direct = requiredSpecifier(init);
  if (direct !== undefined) {
    out.set(local, { specifier: direct, take: 'module', imported: local });
    return;
  }
  // require('x').member
  if (init.type === 'MemberExpression') {
    const specifier = requiredSpecifier(init.object as AnyNode);
    const property = init.property as AnyNode;
    const name = !init.computed && property.type === 'Identifier' ? (property.name as string) : property.type === 'Literal' ? String(property.value) : undefined;
    if (specifier !== undefined && name !== undefined) out.set(local, { specifier, take: 'named', export: name, imported: name });
    return;
  }
  // __importStar(require('x')), tslib_1.__importDefault(require('x')), __toESM(require('x'), 1)
  if (init.type === 'CallExpression') {
    const callee = init.callee as AnyNode;
    const helper = callee.type === 'Identifier' ? (callee.name as string) : callee.type === 'MemberExpression' && !callee.computed ? ((callee.property as AnyNode).name as string) : undefined;
    const wrap = helper === undefined ? undefined : WRAPPERS[helper];
    const args = init.arguments as AnyNode[];
    const specifier = args[0] ? requiredSpecifier(args[0]) : undefined;
    if (wrap === undefined || specifier === undefined) return;
    const nodeMode = wrap === 'toESM' && args[1] !== undefined && !(args[1].type === 'Literal' && !args[1].value);
    out.set(local, { specifier, take: 'module', wrap: nodeMode ? 'toESMNode' : wrap, imported: local });
  }
}

/** `require("x")` → "x". */
function requiredSpecifier(node: AnyNode): string | undefined {
  if (node.type !== 'CallExpression') return undefined;
  const callee = node.callee as AnyNode;
  const args = node.arguments as AnyNode[];
  if (callee.type !== 'Identifier' || callee.name !== 'require' || args.length !== 1) return undefined;
  const arg = args[0]!;
  return arg.type === 'Literal' && typeof arg.value === 'string' ? arg.value : undefined;
}
