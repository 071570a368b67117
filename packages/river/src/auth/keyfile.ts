/**
 * Cluster-key helpers shared by `river vm --key-file` and `trickle keygen`.
 *
 * A cluster key is an opaque, single-line string of printable ASCII, at least
 * {@link MIN_KEY_LENGTH} characters. `generateKey()` makes 32 random bytes as 64 lowercase hex
 * characters: hex survives shells, env vars, YAML and copy-paste without quoting or padding
 * questions, and the length makes a generated key recognisable. Users may pick their own key
 * (a long passphrase works); River never decodes it, the handshake uses its UTF-8 bytes.
 *
 * Where a key comes from ({@link resolveKey}), first match wins:
 *   1. the explicit `key` option (`RiverVM({ key })`, `connect({ key })`);
 *   2. the explicit `keyFile` option (`--key-file`);
 *   3. env `RIVER_KEY`;
 *   4. env `RIVER_KEY_FILE`;
 *   5. only with `{ defaultFile: true }`: the default key file ({@link defaultKeyFilePath}), if it exists.
 * Empty env values count as unset. No key at all resolves to `undefined` (the VM then listens on
 * loopback only).
 *
 * Key files hold the key and a newline, mode 0600. On POSIX a key file that group or others can
 * access is refused with `InsecureKeyFileError` (as ssh refuses such private keys); pass
 * `{ insecure: 'warn' }` to read it anyway with a process warning.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { InsecureKeyFileError } from '../errors/insecure-key-file-error';
import { InvalidKeyError } from '../errors/invalid-key-error';
import { KeyFileExistsError } from '../errors/key-file-exists-error';
import { KeyFileReadError } from '../errors/key-file-read-error';

/** Random bytes in a generated key (256 bits). */
export const KEY_BYTES = 32;
/** The shortest key accepted, in characters. */
export const MIN_KEY_LENGTH = 16;
/** The longest key accepted, in characters (keeps a wrong file, e.g. a binary, from being taken as a key). */
export const MAX_KEY_LENGTH = 1024;
/**
 * The least entropy a key must show, in bits, estimated from its own characters (see
 * {@link estimateKeyBits}): 16 characters of one letter show none, a generated key ~250, random
 * keys of 16 printable characters ~60. (The estimate cannot exceed log2(length) bits per
 * character, so a higher bar would refuse short random keys.)
 */
export const MIN_KEY_BITS = 48;

/**
 * A key's entropy as its characters show it: its length times the Shannon entropy of its
 * character frequencies. An overestimate for keys picked by people (it cannot see words or
 * sequences), but it catches repeated and near-constant keys.
 */
export function estimateKeyBits(key: string): number {
  const counts = new Map<string, number>();
  for (const c of key) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const n of counts.values()) {
    const p = n / key.length;
    bitsPerChar -= p * Math.log2(p);
  }
  return bitsPerChar * key.length;
}

/** A fresh random cluster key: {@link KEY_BYTES} bytes as lowercase hex (64 characters). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('hex');
}

/**
 * Checks that `key` is usable as a cluster key and returns it unchanged; throws `InvalidKeyError`
 * (naming `source`, never the key) otherwise. Does not trim: callers trim what they read.
 */
export function validateKey(key: string, source = 'key'): string {
  const fail = (reason: string): never => {
    throw new InvalidKeyError({ source, reason });
  };
  if (typeof key !== 'string') fail('not a string');
  if (key.length === 0) fail('empty');
  if (key.length < MIN_KEY_LENGTH) fail(`too short (${key.length} characters, at least ${MIN_KEY_LENGTH})`);
  if (key.length > MAX_KEY_LENGTH) fail(`too long (more than ${MAX_KEY_LENGTH} characters)`);
  // One line of printable ASCII: no whitespace, controls or non-ASCII bytes whose encoding
  // could differ between machines.
  if (!/^[\x21-\x7e]+$/.test(key)) fail('must be one line of printable ASCII without spaces');
  const bits = estimateKeyBits(key);
  if (bits < MIN_KEY_BITS) {
    fail(`too predictable (its characters show about ${Math.floor(bits)} bits of entropy, at least ${MIN_KEY_BITS} are needed): make one with \`trickle keygen\``);
  }
  return key;
}

/**
 * The default key file: `$XDG_CONFIG_HOME/river/key`, else `~/.config/river/key`
 * (`%APPDATA%\river\key` on Windows).
 */
export function defaultKeyFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'river', 'key');
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'river', 'key');
}

export interface WriteKeyFileOptions {
  /** Replace an existing file (atomically). Default false: an existing file is an error. */
  force?: boolean;
}

/**
 * Writes `key` (default: a new {@link generateKey}) and a newline to `path` with mode 0600,
 * creating missing parent directories (mode 0700). Refuses to replace an existing file
 * (`KeyFileExistsError`) unless `{ force: true }`. Resolves with the key written.
 */
export async function writeKeyFile(
  path: string,
  key: string = generateKey(),
  options: WriteKeyFileOptions = {},
): Promise<string> {
  validateKey(key, 'key');
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const content = `${key}\n`;

  if (!options.force) {
    // 'wx' fails with EEXIST when the file exists: no check-then-write race.
    let handle;
    try {
      handle = await open(target, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileExistsError({ path: target, cause: err });
      throw err;
    }
    try {
      await handle.chmod(0o600); // the umask may have removed bits; make the mode exact
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(target).catch(() => undefined);
      throw err;
    }
    await handle.close();
    return key;
  }

  // force: write a private temp file beside the target and rename it over, so readers never see
  // a half-written key and an old 0644 file is replaced by a 0600 one.
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(content, 'utf8');
    await handle.sync();
    await handle.close();
    await rename(temp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await chmod(target, 0o600);
  return key;
}

export interface ReadKeyFileOptions {
  /**
   * What to do on POSIX when group or others have any access to the file:
   * 'error' (default) throws `InsecureKeyFileError`; 'warn' emits a process warning and reads it.
   */
  insecure?: 'error' | 'warn';
}

/**
 * Reads a key file: the content, trimmed, must be a valid key ({@link validateKey}).
 * Rejects with `KeyFileReadError` (missing/unreadable), `InsecureKeyFileError` (POSIX mode allows
 * group/other access) or `InvalidKeyError` (empty, too short, several lines, …).
 */
export async function readKeyFile(path: string, options: ReadKeyFileOptions = {}): Promise<string> {
  const target = resolve(path);
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    handle = await open(target, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new KeyFileReadError({ path: target, cause: err });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new KeyFileReadError({ path: target, cause: new Error(`not a regular file (${fileKind(info)})`) });
    if (info.size > MAX_KEY_LENGTH + 64) {
      throw new InvalidKeyError({ source: target, reason: `file too large (${info.size} bytes) to hold a key` });
    }
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      const error = new InsecureKeyFileError({ path: target, mode: info.mode });
      if ((options.insecure ?? 'error') === 'error') throw error;
      process.emitWarning(error.message, { code: error.code });
    }
    let text: string;
    try {
      text = await handle.readFile('utf8');
    } catch (err) {
      throw new KeyFileReadError({ path: target, cause: err });
    }
    return validateKey(text.trim(), target);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function fileKind(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a file';
}

export interface ResolveKeyOptions {
  /** An explicit key (highest precedence). */
  key?: string;
  /** An explicit key file (e.g. `--key-file`). */
  keyFile?: string;
  /** Where `RIVER_KEY` / `RIVER_KEY_FILE` are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Last resort: read {@link defaultKeyFilePath} if that file exists. Default false. */
  defaultFile?: boolean;
  /** Passed to {@link readKeyFile}. */
  insecure?: ReadKeyFileOptions['insecure'];
}

/**
 * The cluster key to use, by the precedence documented at the top of this file, or `undefined`
 * when none is configured. A configured but bad source (missing file, invalid key) rejects; it
 * never falls through to the next source.
 */
export async function resolveKey(options: ResolveKeyOptions = {}): Promise<string | undefined> {
  const env = options.env ?? process.env;
  const read = (path: string) => readKeyFile(path, { insecure: options.insecure });
  if (options.key !== undefined) return validateKey(options.key.trim(), 'key');
  if (options.keyFile !== undefined) return read(options.keyFile);
  if (env.RIVER_KEY) return validateKey(env.RIVER_KEY.trim(), 'RIVER_KEY');
  if (env.RIVER_KEY_FILE) return read(env.RIVER_KEY_FILE);
  if (options.defaultFile) {
    const path = defaultKeyFilePath(env);
    const exists = await stat(path).then(
      () => true,
      (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(new KeyFileReadError({ path, cause: err }))),
    );
    if (exists) return read(path);
  }
  return undefined;
}
