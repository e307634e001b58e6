import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import type { Context } from '../context.ts';
import { connectionLimits } from '../net/limits.ts';

/** What `/metrics` serves. */
export interface Metrics {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/**
 * Prometheus metrics read from counters the core keeps as plain numbers, at scrape time, so delivering a message
 * does no metric-library work. One registry per server instance (tests run several in one process), made at the
 * first scrape: prom-client costs ~12 MB of RSS that a server nobody scrapes never needs. The process metrics
 * (event-loop lag, GC) are collected from that first scrape on.
 */
export function createMetrics(ctx: Context): Metrics {
  // Per process, like the open-file limit it guards; listenOn enrols listeners without a context, so the refusal
  // log uses this instance's logger.
  connectionLimits.logTo(ctx.log);
  let registry: Registry | undefined;
  return {
    metrics: () => (registry ??= buildRegistry(ctx)).metrics(),
    get contentType() {
      return (registry ??= buildRegistry(ctx)).contentType;
    },
  };
}

function buildRegistry(ctx: Context): Registry {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_process_' });
  const { hub, dispatcher, stats } = ctx;
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  gauge('herald_connections', 'Open client connections on this node', () => hub.connectionCount);
  gauge('herald_users', 'Users with at least one connection on this node', () => hub.userCount);
  gauge('herald_channels', 'Channels with at least one subscriber on this node', () => hub.channelCount);
  counter('herald_messages_in_total', 'Messages published through any API', () => dispatcher.published);
  counter('herald_messages_out_total', 'Messages queued to client connections', () => hub.deliveries);
  counter('herald_messages_dropped_total', 'Deliveries refused by a closing or slow connection', () => hub.dropped);
  counter('herald_frames_in_total', 'Frames received from clients', () => stats.framesIn);
  counter('herald_connections_refused_total', 'Connections reset on accept: the process is at its open-file limit', () => connectionLimits.refused);
  new Counter({
    name: 'herald_errors_total',
    help: 'Errors answered to clients and backends, by code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of stats.errors) this.inc({ code }, n);
    },
  });
  return registry;
}
