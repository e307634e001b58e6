import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Context } from '../context.ts';
import { connectionLimits } from '../net/limits.ts';

/**
 * Prometheus metrics read from counters the core keeps as plain numbers, at scrape time, so delivering a message
 * does no metric-library work. One registry per server instance (tests run several in one process).
 */
export function createMetrics(ctx: Context): Registry {
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
  // Per process, like the open-file limit it guards; listenOn enrols listeners without a context, so the refusal
  // log uses this instance's logger.
  counter('herald_connections_refused_total', 'Connections reset on accept: the process is at its open-file limit', () => connectionLimits.refused);
  connectionLimits.logTo(ctx.log);
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
