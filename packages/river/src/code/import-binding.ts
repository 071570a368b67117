/**
 * What a shipped function or class needs from its module: one entry per identifier of its source
 * that its module bound to an import (`import { createHash } from 'node:crypto'`, tsc's
 * `const crypto_1 = require("crypto")`, esbuild's `var import_node_crypto = require(...)`).
 * Built on the sending side (`importsOf`), bound again on the receiving side (`bindImports`).
 * Plain data: it travels in River deploys and Trickle injections as it is.
 */
export interface ImportBinding {
  /** The identifier as the shipped source uses it (`createHash`, `crypto_1`, `import_helpers`). */
  name: string;
  /** What the user wrote, for messages: `createHash`, `* as path`, `default as Actor`. */
  imported: string;
  /** The module specifier as written (`node:crypto`, `cbor-x`, `./helpers`). */
  specifier: string;
  /** Where the module comes from on the receiving side. */
  module: ImportedModule;
  /** How the binding is taken from the module's exports. */
  take: 'module' | 'default' | 'namespace' | 'named';
  /** For `take: 'named'`: the export's name. */
  export?: string;
  /** A compiler's interop wrapper around `require()` the module applied (tsc, esbuild). */
  wrap?: 'importStar' | 'importDefault' | 'toESM' | 'toESMNode';
}

export type ImportedModule =
  /** A Node builtin (`node:crypto`). */
  | { kind: 'builtin' }
  /** An npm package: required on the receiving side, where it must be installed. */
  | { kind: 'package' }
  /** The user's own module, bundled (with its own user modules) into one CommonJS script. */
  | ShippedModule;

export interface ShippedModule {
  kind: 'bundle';
  /** Identifies this build of the module: bundles with the same id are evaluated once per realm. */
  id: string;
  /** The module's file on the sending side, for messages and stack traces. */
  file: string;
  /** CommonJS source; its `require` resolves packages and builtins on the receiving side. */
  code: string;
}

/** How the user wrote the import, for messages: `{ createHash } from 'node:crypto'`. */
export function describeImport(found: Pick<ImportBinding, 'imported' | 'specifier' | 'take'>): string {
  if (found.take === 'module') return `'${found.specifier}'`;
  return `${found.take === 'named' ? `{ ${found.imported} }` : found.imported} from '${found.specifier}'`;
}
