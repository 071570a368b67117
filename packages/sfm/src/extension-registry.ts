import type { CodecExtension } from './codec-extension';

/** One codec's extensions, looked up by a value's class (most specific first) or by tag. */
export class ExtensionRegistry {
  private readonly byPrototype = new Map<object, CodecExtension>();
  private readonly byTag = new Map<number, CodecExtension>();
  /** Lookup results per prototype, so each class's prototype chain is walked once. */
  private readonly resolved = new Map<object, CodecExtension | null>();

  /** Later extensions for the same class replace earlier ones; tags must be distinct. */
  constructor(extensions: Iterable<CodecExtension>) {
    for (const extension of extensions) {
      const replaced = this.byPrototype.get(extension.type.prototype);
      if (replaced) this.byTag.delete(replaced.tag);
      if (this.byTag.has(extension.tag)) throw new TypeError(`two extensions use tag ${extension.tag}`);
      this.byPrototype.set(extension.type.prototype, extension);
      this.byTag.set(extension.tag, extension);
    }
  }

  get extensions(): CodecExtension[] {
    return [...this.byPrototype.values()];
  }

  forTag(tag: number): CodecExtension | undefined {
    return this.byTag.get(tag);
  }

  /** The extension for the nearest class in `value`'s prototype chain, if any. */
  forValue(value: object): CodecExtension | undefined {
    const proto: object | null = Object.getPrototypeOf(value);
    if (proto === null) return undefined;
    let found = this.resolved.get(proto);
    if (found === undefined) {
      found = null;
      for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
        const extension = this.byPrototype.get(p);
        if (extension) {
          found = extension;
          break;
        }
      }
      this.resolved.set(proto, found);
    }
    return found ?? undefined;
  }
}
