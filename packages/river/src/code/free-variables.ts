/**
 * The free variables of a function's or class's source text: the identifiers it reads that it
 * does not declare itself. Parsed with acorn; a name declared anywhere inside (a parameter, a
 * `var`/`let`/`const`, a function, class or catch binding) counts as declared throughout, which
 * can only leave out a name, never invent one.
 */
import type { Node, Options } from 'acorn';

type AnyNode = Node & Record<string, unknown>;

/** acorn, loaded when first needed (the receiving side never needs it). */
function parse(source: string, options: Options): Node {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('acorn') as typeof import('acorn')).parse(source, options);
}

/** Parses the source of a function, arrow function, class or method shorthand. */
export function parseFunctionSource(source: string): Node | undefined {
  for (const text of [`(${source}\n)`, `({${source}\n})`]) {
    try {
      return parse(text, { ecmaVersion: 'latest', sourceType: 'module', allowAwaitOutsideFunction: true });
    } catch {
      // try the next form
    }
  }
  return undefined;
}

export function freeVariables(source: string): Set<string> | undefined {
  const root = parseFunctionSource(source);
  if (!root) return undefined;
  const declared = new Set<string>(['arguments']);
  const used = new Set<string>();
  visit(root as AnyNode, declared, used);
  for (const name of declared) used.delete(name);
  return used;
}

function declarePattern(node: AnyNode | null | undefined, declared: Set<string>): void {
  if (!node) return;
  switch (node.type) {
    case 'Identifier':
      declared.add(node.name as string);
      break;
    case 'ObjectPattern':
      for (const p of node.properties as AnyNode[]) declarePattern((p.type === 'RestElement' ? p.argument : p.value) as AnyNode, declared);
      break;
    case 'ArrayPattern':
      for (const e of node.elements as (AnyNode | null)[]) declarePattern(e, declared);
      break;
    case 'RestElement':
      declarePattern(node.argument as AnyNode, declared);
      break;
    case 'AssignmentPattern':
      declarePattern(node.left as AnyNode, declared);
      break;
  }
}

/** Walks every node; collects declarations and identifier reads. */
function visit(node: AnyNode, declared: Set<string>, used: Set<string>): void {
  switch (node.type) {
    case 'Identifier':
      used.add(node.name as string);
      return;
    case 'FunctionDeclaration':
    case 'FunctionExpression':
    case 'ArrowFunctionExpression':
      if (node.id) declarePattern(node.id as AnyNode, declared);
      for (const p of node.params as AnyNode[]) declarePattern(p, declared);
      break;
    case 'ClassDeclaration':
    case 'ClassExpression':
      if (node.id) declarePattern(node.id as AnyNode, declared);
      break;
    case 'VariableDeclarator':
      declarePattern(node.id as AnyNode, declared);
      break;
    case 'CatchClause':
      declarePattern(node.param as AnyNode | null, declared);
      break;
    case 'MemberExpression':
      visit(node.object as AnyNode, declared, used);
      if (node.computed) visit(node.property as AnyNode, declared, used);
      return;
    case 'Property':
    case 'MethodDefinition':
    case 'PropertyDefinition':
      if (node.computed) visit(node.key as AnyNode, declared, used);
      if (node.value) visit(node.value as AnyNode, declared, used);
      return;
    case 'LabeledStatement':
      visit(node.body as AnyNode, declared, used);
      return;
    case 'BreakStatement':
    case 'ContinueStatement':
    case 'MetaProperty':
    case 'PrivateIdentifier':
      return;
  }
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end' || key === 'loc' || key === 'range') continue;
    const child = node[key];
    if (Array.isArray(child)) {
      for (const c of child) if (c && typeof c === 'object' && typeof (c as AnyNode).type === 'string') visit(c as AnyNode, declared, used);
    } else if (child && typeof child === 'object' && typeof (child as AnyNode).type === 'string') {
      visit(child as AnyNode, declared, used);
    }
  }
}
