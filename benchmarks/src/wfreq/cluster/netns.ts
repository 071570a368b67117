// Network namespaces: creation, probing, and removal of our own (including stale ones of dead
// runs, by name prefix): @trickle/devkit's. Nothing there adds an address, route, link or process
// to the host's own namespace: veth ends are created directly inside their namespaces.
export { netnsSupport, listNamespaces, pidsIn, addNamespace, deleteNamespace, deleteNamespaceSync } from '@trickle/devkit';
export { sweepStaleNamespaces, type NetnsSupport as Support } from '@trickle/devkit';
