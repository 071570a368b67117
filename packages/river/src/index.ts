// @river/engine — the public API. Everything users or @trickle/core may rely on is exported here.

export { VirtualResource } from './vr/virtual-resource';
export { RESERVED_ATTRIBUTES } from './vr/virtual-resource';
export type {
  DeployOptions,
  DiscoverOptions,
  Outgoing,
  RecvOptions,
  Received,
  Selector,
  Stoppable,
  VRClass,
  WatchVMsOptions,
} from './vr/virtual-resource';

export { isExitMessage, isStopMessage, isSystemMessage, isUndeliverableMessage } from './vr/system-messages';
export type { ExitMessage, StopMessage, SystemMessage, UndecodableMessage, UndeliverableMessage } from './vr/system-messages';

export { RiverVM } from './vm/river-vm';
export type { RiverVMOptions, VMState } from './vm/river-vm';

export { Initiator, runInitiator, runInitiatorWith, startInitiator } from './initiator/initiator';
export type { InitiatorOptions } from './initiator/initiator';

export { runVmCli, parseVmArgs } from './cli';
export type { VmCliOptions } from './cli';
export { runPingCli, PING_FLAGS } from './ping-cli';
export type { PingCliOptions } from './ping-cli';
export { pingVM } from './net/ping';
export type { PingOptions, PingResult } from './net/ping';
export { PingError } from './errors/ping-error';
export type { PingFailure } from './errors/ping-error';
export type { MetricDeclaration } from './metrics/vm-metrics';

export type { VMInfo } from './vm-info';
export type { DiscoveryFailure, DiscoveryFailureReason, DiscoveryReport } from './discovery/failures';
export { describeFailure, failureReason } from './discovery/failures';
export type { Lifetime, ResourceLimits, UUID } from './protocol';
export { PROTOCOL_VERSION } from './protocol';
export { ENGINE_VERSION, ENGINE_DEFAULTS } from './engine/engine';

export { defaultKeyFilePath, generateKey, readKeyFile, resolveKey, validateKey, writeKeyFile } from './auth/keyfile';
export type { ResolveKeyOptions, ReadKeyFileOptions, WriteKeyFileOptions } from './auth/keyfile';

export {
  AuthError,
  ConfigError,
  DeployError,
  DiscoveryError,
  HandshakeError,
  MessageTooLargeError,
  NotParentError,
  PeerLostError,
  ProtocolError,
  RequestTimeoutError,
  ReservedAttributeError,
  ResourceLimitError,
  RiverError,
  StoppedError,
  UnknownVRError,
  VRExitedError,
  VRLostError,
} from './errors';
export { ImportError } from './errors/import-error';
// Code that travels with what it uses (see docs/architecture.md, "Shipped code and its imports").
export { importsOf, shareLoadedPackage } from './code/portable';
export { bindImports, workingDirectoryRequire } from './code/bind-imports';
export type { ImportContext } from './code/bind-imports';
export type { ImportBinding, ImportedModule, ShippedModule } from './code/import-binding';
export { compileShipped, mapShippedStack, sourcePositionOf } from './code/source-position';
export type { SourcePosition } from './code/source-position';
export { InsecureKeyFileError } from './errors/insecure-key-file-error';
export { InvalidKeyError } from './errors/invalid-key-error';
export { KeyFileExistsError } from './errors/key-file-exists-error';
export { KeyFileReadError } from './errors/key-file-read-error';
export { MdnsAnnounceError } from './errors/mdns-announce-error';
export { MdnsInterfaceError } from './errors/mdns-interface-error';
export { MdnsSocketError } from './errors/mdns-socket-error';
