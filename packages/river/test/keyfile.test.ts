import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  defaultKeyFilePath,
  estimateKeyBits,
  generateKey,
  MIN_KEY_LENGTH,
  readKeyFile,
  resolveKey,
  validateKey,
  writeKeyFile,
} from '../src/auth/keyfile';
import { Engine } from '../src/engine/engine';
import { InsecureKeyFileError } from '../src/errors/insecure-key-file-error';
import { InvalidKeyError } from '../src/errors/invalid-key-error';
import { KeyFileExistsError } from '../src/errors/key-file-exists-error';
import { KeyFileReadError } from '../src/errors/key-file-read-error';

const posix = process.platform !== 'win32';
const posixTest = posix ? test : test.skip;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'river-keyfile-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('generateKey', () => {
  test('is 32 random bytes as 64 lowercase hex characters, different every time', () => {
    const keys = new Set(Array.from({ length: 20 }, generateKey));
    expect(keys.size).toBe(20);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{64}$/);
  });

  test('generated keys are valid keys', () => {
    expect(validateKey(generateKey())).toHaveLength(64);
  });
});

describe('validateKey', () => {
  test.each([
    ['', /empty/],
    ['short', /too short/],
    ['a'.repeat(MIN_KEY_LENGTH - 1), /too short/],
    ['has a space in the middle!', /printable ASCII/],
    ['line-one-line-one\nline-two-line-two', /printable ASCII/],
    ['schlüssel-schlüssel-schlüssel', /printable ASCII/],
    ['x'.repeat(2000), /too long/],
  ])('rejects %j', (key, reason) => {
    expect(() => validateKey(key, 'test')).toThrow(reason);
    try {
      validateKey(key, 'test');
    } catch (err) {
      expect(InvalidKeyError.isInstance(err)).toBe(true);
      expect((err as InvalidKeyError).code).toBe('RIVER_INVALID_KEY');
      expect((err as InvalidKeyError).source).toBe('test');
    }
  });

  test('never puts the key in the error message', () => {
    const secret = 'secret secret secret';
    expect(() => validateKey(secret)).toThrow(InvalidKeyError);
    try {
      validateKey(secret);
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });

  test('accepts a user-chosen passphrase of printable ASCII', () => {
    expect(validateKey('correct-horse-battery-staple')).toBe('correct-horse-battery-staple');
  });

  test.each([
    ['one letter, 16 times', 'a'.repeat(16)],
    ['one letter, 1000 times', 'Z'.repeat(1000)],
    ['two letters alternating', 'ab'.repeat(16)],
    ['nearly constant', `${'x'.repeat(30)}y`],
    ['four symbols', '0123'.repeat(5)],
  ])('refuses a low-entropy key (%s), naming the bound and not the key', (_what, key) => {
    const err = (() => {
      try {
        validateKey(key, 'test');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(InvalidKeyError.isInstance(err)).toBe(true);
    expect((err as Error).message).toMatch(/invalid cluster key from test: too predictable \(its characters show about \d+ bits of entropy, at least 48 are needed\): make one with `trickle keygen`/);
    expect((err as Error).message).not.toContain(key.slice(0, 8));
  });

  test('accepts random keys of 16 printable characters and 20 hex digits; estimates bits from character frequencies', () => {
    expect(estimateKeyBits('a'.repeat(16))).toBe(0);
    expect(estimateKeyBits('ab'.repeat(8))).toBe(16);
    expect(estimateKeyBits(generateKey())).toBeGreaterThan(200);
    const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i));
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(16);
      expect(validateKey(Array.from(bytes, (b) => printable[b % 94]).join(''))).toHaveLength(16);
      expect(validateKey(randomBytes(10).toString('hex'))).toHaveLength(20);
    }
  });

  test('a programmatic key goes through the same checks (RiverVM, connect)', () => {
    expect(() => new Engine({ role: 'vm', key: 'q'.repeat(16) })).toThrow(InvalidKeyError);
  });
});

describe('writeKeyFile / readKeyFile', () => {
  test('round-trips a generated key through a file with mode 0600, creating parent directories', async () => {
    const path = join(dir, 'a', 'b', 'key');
    const key = await writeKeyFile(path);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(path, 'utf8')).toBe(`${key}\n`);
    if (posix) {
      expect(await mode(path)).toBe(0o600);
      expect(await mode(join(dir, 'a', 'b'))).toBe(0o700);
    }
    expect(await readKeyFile(path)).toBe(key);
  });

  test('writes a given key', async () => {
    const path = join(dir, 'key');
    await expect(writeKeyFile(path, 'my-own-cluster-key-123')).resolves.toBe('my-own-cluster-key-123');
    await expect(readKeyFile(path)).resolves.toBe('my-own-cluster-key-123');
  });

  test('refuses to write an invalid key and leaves no file', async () => {
    const path = join(dir, 'key');
    await expect(writeKeyFile(path, 'short')).rejects.toThrow(InvalidKeyError);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('refuses to overwrite an existing file unless forced', async () => {
    const path = join(dir, 'key');
    const first = await writeKeyFile(path);
    const err = await writeKeyFile(path).catch((e: unknown) => e);
    expect(KeyFileExistsError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ code: 'RIVER_KEY_FILE_EXISTS', path });
    expect(await readKeyFile(path)).toBe(first);

    const second = await writeKeyFile(path, undefined, { force: true });
    expect(second).not.toBe(first);
    expect(await readKeyFile(path)).toBe(second);
  });

  posixTest('force replaces a 0644 file with a 0600 one and leaves no temp files', async () => {
    const path = join(dir, 'key');
    await writeFile(path, 'old-key-old-key-old-key\n', { mode: 0o644 });
    await chmod(path, 0o644);
    await writeKeyFile(path, generateKey(), { force: true });
    expect(await mode(path)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['key']);
  });

  test('trims whitespace and the trailing newline (CRLF too)', async () => {
    const path = join(dir, 'key');
    await writeFile(path, '  \r\n  padded-key-padded-key \r\n\r\n', { mode: 0o600 });
    await expect(readKeyFile(path)).resolves.toBe('padded-key-padded-key');
  });

  test.each([
    ['empty', '', /empty/],
    ['only whitespace', ' \n\t\n', /empty/],
    ['too short', 'abc\n', /too short/],
    ['two lines', 'first-line-of-key\nsecond-line-of-key\n', /printable ASCII/],
  ])('rejects a key file that is %s', async (_label, content, reason) => {
    const path = join(dir, 'key');
    await writeFile(path, content, { mode: 0o600 });
    const err = await readKeyFile(path).catch((e: unknown) => e);
    expect(InvalidKeyError.isInstance(err)).toBe(true);
    expect((err as Error).message).toMatch(reason);
    expect((err as InvalidKeyError).source).toBe(path);
  });

  test('a missing file rejects with KeyFileReadError carrying ENOENT as cause', async () => {
    const path = join(dir, 'nope');
    const err = await readKeyFile(path).catch((e: unknown) => e);
    expect(KeyFileReadError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ code: 'RIVER_KEY_FILE_UNREADABLE', path });
    expect((err as Error).cause).toMatchObject({ code: 'ENOENT' });
  });

  test('a directory is not a key file', async () => {
    await expect(readKeyFile(dir)).rejects.toThrow(KeyFileReadError);
  });

  posixTest('a FIFO is refused at once, without waiting for a writer', async () => {
    const fifo = join(dir, 'key');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const err = await Promise.race([
      readKeyFile(fifo).catch((e: unknown) => e),
      new Promise((r) => (timer = setTimeout(() => r(new Error('readKeyFile hung on a FIFO')), 5000))),
    ]);
    clearTimeout(timer);
    expect(KeyFileReadError.isInstance(err)).toBe(true);
    expect((err as Error).message).toMatch(/cannot read key file .*: not a regular file \(a FIFO\)/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  posixTest('`river vm --key-file <fifo>` exits with the error instead of hanging', () => {
    const fifo = join(dir, 'key');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const run = spawnSync(process.execPath, [join(__dirname, '..', 'dist', 'cli.js'), 'vm', '--port', '0', '--no-advertise', '--key-file', fifo], {
      encoding: 'utf8',
      timeout: 15_000,
      env: { ...process.env, RIVER_MDNS: 'off' },
    });
    expect(run.error).toBeUndefined(); // not killed by the timeout
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/not a regular file \(a FIFO\)/);
  });

  posixTest.each([
    ['0644', 0o644],
    ['0640', 0o640],
    ['0604', 0o604],
    ['0660', 0o660],
    ['0620', 0o620],
  ])('refuses a key file with mode %s', async (_label, fileMode) => {
    const path = join(dir, 'key');
    await writeKeyFile(path);
    await chmod(path, fileMode);
    const err = await readKeyFile(path).catch((e: unknown) => e);
    expect(InsecureKeyFileError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ code: 'RIVER_KEY_FILE_INSECURE', path });
    expect((err as InsecureKeyFileError).mode & 0o777).toBe(fileMode);
    expect((err as Error).message).toContain('chmod 600');
  });

  posixTest("with { insecure: 'warn' } an open key file is read and a warning emitted", async () => {
    const path = join(dir, 'key');
    const key = await writeKeyFile(path);
    await chmod(path, 0o644);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await expect(readKeyFile(path, { insecure: 'warn' })).resolves.toBe(key);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('accessible to group or others'), {
        code: 'RIVER_KEY_FILE_INSECURE',
      });
    } finally {
      warn.mockRestore();
    }
  });

  posixTest('0400 is fine', async () => {
    const path = join(dir, 'key');
    const key = await writeKeyFile(path);
    await chmod(path, 0o400);
    await expect(readKeyFile(path)).resolves.toBe(key);
  });
});

describe('resolveKey', () => {
  const keyA = 'key-from-option-aaaa';
  const keyB = 'key-from-key-file-bbbb';
  const keyC = 'key-from-env-RIVER_KEY-cccc';
  const keyD = 'key-from-env-RIVER_KEY_FILE-dddd';
  let fileB: string;
  let fileD: string;
  beforeEach(async () => {
    fileB = join(dir, 'b');
    fileD = join(dir, 'd');
    await writeKeyFile(fileB, keyB);
    await writeKeyFile(fileD, keyD);
  });

  test('precedence: key, keyFile, RIVER_KEY, RIVER_KEY_FILE', async () => {
    const env = { RIVER_KEY: keyC, RIVER_KEY_FILE: fileD };
    await expect(resolveKey({ key: keyA, keyFile: fileB, env })).resolves.toBe(keyA);
    await expect(resolveKey({ keyFile: fileB, env })).resolves.toBe(keyB);
    await expect(resolveKey({ env })).resolves.toBe(keyC);
    await expect(resolveKey({ env: { RIVER_KEY_FILE: fileD } })).resolves.toBe(keyD);
  });

  test('nothing configured resolves to undefined; empty env values count as unset', async () => {
    await expect(resolveKey({ env: {} })).resolves.toBeUndefined();
    await expect(resolveKey({ env: { RIVER_KEY: '', RIVER_KEY_FILE: '' } })).resolves.toBeUndefined();
  });

  test('a bad configured source rejects rather than falling through', async () => {
    await expect(resolveKey({ key: 'short', env: { RIVER_KEY: keyC } })).rejects.toThrow(InvalidKeyError);
    await expect(resolveKey({ keyFile: join(dir, 'missing'), env: { RIVER_KEY: keyC } })).rejects.toThrow(
      KeyFileReadError,
    );
    await expect(resolveKey({ env: { RIVER_KEY: 'short' } })).rejects.toThrow(/RIVER_KEY/);
  });

  test('trims an explicit key and RIVER_KEY', async () => {
    await expect(resolveKey({ key: `  ${keyA}\n` })).resolves.toBe(keyA);
    await expect(resolveKey({ env: { RIVER_KEY: `${keyC}\n` } })).resolves.toBe(keyC);
  });

  test('the default key file is used only when asked for, and only if it exists', async () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'config') };
    expect(defaultKeyFilePath(env)).toBe(join(dir, 'config', 'river', 'key'));
    await expect(resolveKey({ env, defaultFile: true })).resolves.toBeUndefined();
    const key = await writeKeyFile(defaultKeyFilePath(env));
    await expect(resolveKey({ env })).resolves.toBeUndefined();
    await expect(resolveKey({ env, defaultFile: true })).resolves.toBe(key);
  });

  test('defaultKeyFilePath falls back to ~/.config/river/key', () => {
    if (process.platform === 'win32') return;
    expect(defaultKeyFilePath({})).toBe(join(homedir(), '.config', 'river', 'key'));
  });
});
