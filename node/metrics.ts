/**
 * Prometheus metrics over HTTP (`GET /metrics`, text exposition format 0.0.4), default
 * 127.0.0.1:26660. The figures are read from the node when scraped, so nothing here sits on the
 * paths that produce them. Written by hand rather than with prom-client: a dozen gauges and
 * counters that already exist as plain numbers need no registry.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricSample {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  /** One value, or values by label set. */
  values: number | { labels: Record<string, string>; value: number }[];
}

export function formatMetrics(samples: readonly MetricSample[]): string {
  const out: string[] = [];
  for (const s of samples) {
    out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
    if (typeof s.values === 'number') out.push(`${s.name} ${s.values}`);
    else {
      for (const v of s.values) {
        const labels = Object.entries(v.labels).map(([k, l]) => `${k}="${l.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',');
        out.push(`${s.name}{${labels}} ${v.value}`);
      }
    }
  }
  return out.join('\n') + '\n';
}

export async function startMetricsServer(
  collect: () => MetricSample[], opts: { host: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at GET /metrics\n');
      return;
    }
    let body: string;
    try {
      body = formatMetrics(collect());
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`could not collect metrics: ${(err as Error).message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
