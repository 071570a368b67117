/** Small pure pieces: frame parsing, errors across copies and the wire, class-source evaluation, options. */
import { DeployError, RiverError, UnknownVRError, VRLostError, VirtualResource, generateKey, parseVmArgs } from '../src';
import { fromWireError, reviveError, toWireError } from '../src/errors/wire';
import { __name, evaluateClass } from '../src/host/evaluate';
import { parseAddress } from '../src/net/peers';
import { FrameKind, parseFrame } from '../src/protocol';
import { mdnsEnabled } from '../src/discovery/sources';
import { dnsServerFrom, parsePeerSpecs } from '../src/discovery/dns';
import { Engine } from '../src/engine/engine';

describe('parseFrame', () => {
  test('accepts well-formed frames', () => {
    const route = [FrameKind.ROUTE, 'd', 's', new Uint8Array([1])];
    expect(parseFrame(route)).toBe(route);
    expect(parseFrame([FrameKind.PING, 1])).toEqual([FrameKind.PING, 1]);
    expect(parseFrame([FrameKind.ERROR, 5, 'x'])).toEqual([FrameKind.ERROR, '5', 'x']);
  });
  test.each([
    ['not an array', 'hello'],
    ['no kind', ['x']],
    ['unknown kind', [77]],
    ['ROUTE with a string body', [FrameKind.ROUTE, 'd', 's', 'body']],
    ['ROUTE without dest', [FrameKind.ROUTE, 1, 's', new Uint8Array()]],
    ['HELLO without nonce', [FrameKind.HELLO, { version: 1, nodeId: 'n', role: 'vm' }]],
    ['REQUEST without id', [FrameKind.REQUEST, 'x', 'deploy', {}]],
  ])('refuses %s with ProtocolError', (_name, value) => {
    expect(() => parseFrame(value)).toThrow(expect.objectContaining({ code: 'RIVER_PROTOCOL_ERROR' }));
  });
});

describe('errors', () => {
  test('one class per condition with a code, a cause and isInstance', () => {
    const cause = new Error('root');
    const e = new VRLostError({ message: 'gone', cause });
    expect(e).toBeInstanceOf(RiverError);
    expect(e).toMatchObject({ name: 'VRLostError', code: 'RIVER_VR_LOST', cause });
    expect(VRLostError.isInstance(e)).toBe(true);
    expect(RiverError.isInstance(e)).toBe(true);
    expect(UnknownVRError.isInstance(e)).toBe(false);
    expect(VRLostError.isInstance(new Error('x'))).toBe(false);
    expect(VRLostError.isInstance(null)).toBe(false);
  });

  test('isInstance survives a second copy of the package (marker is Symbol.for)', () => {
    const other = { [Symbol.for('river.error')]: true, [Symbol.for('river.error.UnknownVRError')]: true, message: 'x' };
    expect(UnknownVRError.isInstance(other)).toBe(true);
    expect(RiverError.isInstance(other)).toBe(true);
  });

  test('wire form keeps class, code, message and cause', () => {
    const e = new UnknownVRError({ message: 'nope', cause: new VRLostError({ message: 'inner' }) });
    const back = fromWireError(JSON.parse(JSON.stringify(toWireError(e))));
    expect(UnknownVRError.isInstance(back)).toBe(true);
    expect(back.message).toBe('nope');
    expect(VRLostError.isInstance(back.cause)).toBe(true);
    const plain = fromWireError(toWireError(Object.assign(new TypeError('t'), { code: 'E_X' })));
    expect(plain).toMatchObject({ name: 'TypeError', message: 't', code: 'E_X' });
  });

  test('reviveError gives a decoded River error its class back', () => {
    const decoded = Object.assign(new Error('gone'), { name: 'VRLostError' });
    expect(VRLostError.isInstance(reviveError(decoded))).toBe(true);
    const other = new RangeError('r');
    expect(reviveError(other)).toBe(other);
  });
});

describe('evaluateClass', () => {
  const scope = { VirtualResource };

  test('evaluates a class with the import bindings it was shipped with, and __name in scope', () => {
    const src = `class X extends engine_1.VirtualResource { main() { return (0, sfm_1.ANY); } }`;
    const cls = evaluateClass(src, {
      ...scope,
      imports: [
        { name: 'engine_1', imported: 'engine_1', specifier: '@river/engine', module: { kind: 'package' }, take: 'module' },
        { name: 'sfm_1', imported: 'sfm_1', specifier: '@river/sfm', module: { kind: 'package' }, take: 'module' },
      ],
    }) as { name: string };
    expect(cls.name).toBe('X');
    const esbuild = `__name(class Y extends import_engine.VirtualResource { main() { return require('node:path').sep; } }, "Y")`;
    const imports = [{ name: 'import_engine', imported: 'import_engine', specifier: '@river/engine', module: { kind: 'package' as const }, take: 'module' as const }];
    expect((evaluateClass(esbuild, { ...scope, imports }) as { name: string }).name).toBe('Y');
    const builtin = `class Z extends VirtualResource { main() { return join('a', 'b'); } }`;
    const join = [{ name: 'join', imported: 'join', specifier: 'node:path', module: { kind: 'builtin' as const }, take: 'named' as const, export: 'join' }];
    expect(typeof evaluateClass(builtin, { ...scope, imports: join })).toBe('function');
  });

  test('an alias the class was not shipped with stays unbound: River binds nothing by guessing', () => {
    expect(() => evaluateClass('class W extends engine_1.VirtualResource {}', scope)).toThrow(/engine_1 is not defined/);
  });

  test('a package missing where the class runs is an ImportError naming it, the identifier and the VM', () => {
    const imports = [{ name: 'thing', imported: 'thing', specifier: 'no-such-package-xyz', module: { kind: 'package' as const }, take: 'named' as const, export: 'thing' }];
    expect(() => evaluateClass('class V extends VirtualResource {}', { ...scope, imports, where: 'VM lab-3' })).toThrow(
      /uses 'thing' \(\{ thing \} from 'no-such-package-xyz'\), but package 'no-such-package-xyz' is not installed on VM lab-3/,
    );
  });

  test('source that does not evaluate raises DeployError', () => {
    expect(() => evaluateClass('class {', scope)).toThrow(DeployError);
    expect(() => evaluateClass('class A extends Missing {}', scope)).toThrow(/Missing is not defined/);
    expect(() => evaluateClass('42', scope)).toThrow(/not a class/);
    expect(() => evaluateClass('', scope)).toThrow(DeployError);
  });

  test('__name names and returns its target', () => {
    const f = __name(() => 1, 'named');
    expect(f.name).toBe('named');
  });
});

describe('options', () => {
  test('peer lists and addresses', () => {
    expect(parsePeerSpecs('127.0.0.1:1, [::1]:2 localhost:3 vms.example _river._tcp.x.example')).toEqual([
      { kind: 'address', address: { host: '127.0.0.1', port: 1 } },
      { kind: 'address', address: { host: '::1', port: 2 } },
      { kind: 'name', name: 'localhost', port: 3 },
      { kind: 'srv', name: '_river._tcp.vms.example' },
      { kind: 'srv', name: '_river._tcp.x.example' },
    ]);
    for (const bad of ['host:port', 'a:1:2', 'bad!name:1', '-x.example']) {
      expect(() => parsePeerSpecs([bad])).toThrow(expect.objectContaining({ code: 'RIVER_DISCOVERY_FAILED' }));
    }
    expect(dnsServerFrom('127.0.0.53:5353', {})).toBe('127.0.0.53:5353');
    expect(dnsServerFrom(undefined, { RIVER_DNS_SERVER: '10.0.0.2' })).toBe('10.0.0.2');
    expect(dnsServerFrom(undefined, {})).toBeUndefined();
    expect(() => dnsServerFrom('dns.example', {})).toThrow(expect.objectContaining({ code: 'RIVER_DISCOVERY_FAILED' }));
    expect(parseAddress('h:0')).toBeUndefined();
    expect(parseAddress('h:70000')).toBeUndefined();
  });

  test('mDNS switch: option wins over env; without a key it is off unless asked for', () => {
    expect(mdnsEnabled(undefined, true, {})).toBe(true);
    expect(mdnsEnabled(undefined, false, {})).toBe(false);
    expect(mdnsEnabled(undefined, true, { RIVER_MDNS: 'off' })).toBe(false);
    expect(mdnsEnabled(undefined, false, { RIVER_MDNS: 'on' })).toBe(true);
    expect(mdnsEnabled(true, true, { RIVER_MDNS: 'off' })).toBe(true);
    expect(mdnsEnabled(false, true, {})).toBe(false);
  });

  test('vm flags', () => {
    expect(parseVmArgs(['--port', '5', '--no-advertise', '--join', 'a:1', '--slots', '2'])).toMatchObject({ port: 5, advertise: false, join: 'a:1', slots: 2 });
    expect(parseVmArgs(['--help'])).toBe('help');
    expect(() => parseVmArgs(['--port', 'x'])).toThrow(/--port/);
    expect(() => parseVmArgs(['--bogus'])).toThrow();
  });

  test('no key: listening beyond loopback is refused', () => {
    expect(() => new Engine({ role: 'vm', host: '0.0.0.0' })).toThrow(expect.objectContaining({ code: 'RIVER_INVALID_OPTION' }));
    expect(() => new Engine({ role: 'vm', host: '0.0.0.0', key: generateKey() })).not.toThrow();
  });
});
