// Typings for the parts of cbor-x (1.6.x) that @river/sfm uses, as its CommonJS build
// (dist/node.cjs) provides them. cbor-x's package.json points CommonJS type resolution at an
// index.d.cts that it does not ship, so TypeScript would fall back to its ESM typings and refuse
// `require`; tsconfig `paths` maps "cbor-x" here instead.

export interface Options {
  useRecords?: boolean;
  mapsAsObjects?: boolean;
  tagUint8Array?: boolean;
}

export class Encoder {
  constructor(options?: Options);
  /** A view into the encoder's reusable buffer. */
  encode(value: unknown): Buffer;
  decode(bytes: Uint8Array): unknown;
}

/** A tagged value: cbor-x writes it as tag `tag` around `value`, and returns one for unknown tags. */
export class Tag {
  constructor(value: unknown, tag: number);
  value: unknown;
  tag: number;
}

/**
 * cbor-x's extension record (its own typings omit `getTag` and class-only or tag-only forms).
 * With `Class`, encoding an instance writes tag `tag ?? getTag(value)` (none when undefined),
 * then calls `encode`; with `tag` and `decode`, reading that tag calls `decode` on its content.
 * Registration is process-wide.
 */
export interface Extension {
  Class?: abstract new (...args: never[]) => object;
  tag?: number;
  getTag?(value: object): number | undefined;
  encode?(value: object, encodeInner: (data: unknown) => void): void;
  decode?(data: unknown): unknown;
}

export function addExtension(extension: Extension): void;

/** Whether the native string extractor (cbor-extract) was loaded. */
export const isNativeAccelerationEnabled: boolean;
