/**
 * The VM's metrics endpoint: plain HTTP, `GET /metrics` in the Prometheus text format. It binds
 * to loopback unless a host is given (`--metrics-host`): metrics say what a cluster runs, so they
 * are not offered to the network by default.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ConfigError } from '../errors/config-error';
import type { VMMetrics } from './vm-metrics';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(metrics: VMMetrics, options: { port: number; host?: string }): Promise<MetricsServer> {
    const host = options.host ?? DEFAULT_METRICS_HOST;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
        return;
      }
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
      );
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      throw new ConfigError({ message: `cannot serve metrics on ${host}:${options.port}: ${(error as Error).message}`, cause: error });
    });
    server.unref();
    return new MetricsServer(server, host, (server.address() as AddressInfo).port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
