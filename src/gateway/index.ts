import { createServer } from 'node:net';
import type { Context } from '../context.ts';
import { parseHostPort } from '../config/gateway.ts';
import { boundAddress, closeServer, listenOn } from '../net/servers.ts';
import type { Address } from '../transports/common/transport.ts';
import type { GatewayEvents } from '../transports/gateway/types.ts';
import { Gateway } from './gateway.ts';
import { InnerLink } from './link.ts';
import { Register } from './register.ts';

/** The original pings worker links every 25 s, and only when lanIp is not 127.0.0.1 (§6.6). */
const WORKER_PING_MS = 25_000;

/** GatewayWorker mode's backend side, as one unit the server starts and stops (like compat/index.ts's push ports). */
export interface GatewayService {
  /** Handed to the client listener (transports/gateway/). */
  readonly events: GatewayEvents;
  listen(): Promise<void>;
  close(): Promise<void>;
  /** `gatewayRegister` and `gatewayInner`, real ports after listen. */
  addresses(): Record<string, Address>;
}

/**
 * The Register (`gateway.register`) and the gateway's inner port (`gateway.lanIp`:`gateway.startPort`), through
 * which unchanged BusinessWorkers and GatewayClient calls reach this node's GatewayWorker clients
 * (docs/migrating-from-gatewayworker.md). The client listener is a transport (transports/gateway/).
 */
export function createGateway(ctx: Context): GatewayService {
  const cfg = ctx.config.gateway;
  const gateway = new Gateway(ctx);
  const inner = createServer({ allowHalfOpen: true }, (socket) => gateway.accept(new InnerLink(gateway, socket)));
  inner.on('error', (err) => ctx.log.error({ err }, 'gateway inner port error'));
  const register = new Register(ctx.log, cfg.secret, () => (gateway.innerPort === 0 ? undefined : gateway.address));
  const reg = parseHostPort(cfg.register);
  let ping: NodeJS.Timeout | undefined;
  let discovery: NodeJS.Timeout | undefined;
  // With Redis every node is a gateway: each Register lists all of them (learned over the control bus), so workers
  // link to every node and a GatewayClient asks every node, each answering for its own clients (§4, §7).
  const clustered = ctx.broker.deliversAll;
  const discover = async (): Promise<void> => {
    const all = await ctx.control.onEvery('gatewayAddress');
    register.setCluster(all.filter((a): a is string => typeof a === 'string' && a !== gateway.address));
  };
  return {
    events: gateway,
    async listen() {
      await listenOn(inner, cfg.startPort, cfg.lanIp);
      gateway.innerPort = boundAddress(inner, cfg.lanIp, cfg.startPort).port;
      await listenOn(register.net, reg.port, reg.host);
      if (clustered) {
        ctx.control.local.provideGatewayAddress(() => (gateway.innerPort === 0 ? undefined : gateway.address));
        await discover().catch((err: unknown) => ctx.log.warn({ err }, 'gateway: could not learn the other nodes'));
        discovery = setInterval(() => void discover().catch(() => {}), ctx.config.redis.presenceHeartbeatMs);
        discovery.unref();
      }
      if (cfg.lanIp !== '127.0.0.1') {
        ping = setInterval(() => gateway.pingWorkers(), WORKER_PING_MS);
        ping.unref();
      }
      ctx.log.info(
        { register: `${reg.host}:${boundAddress(register.net, reg.host, reg.port).port}`, inner: gateway.address },
        'GatewayWorker Register and gateway open',
      );
    },
    async close() {
      if (ping !== undefined) clearInterval(ping);
      if (discovery !== undefined) clearInterval(discovery);
      register.close();
      const closed = closeServer(inner);
      await Promise.all([...gateway.links].map((l) => l.end()));
      await closed;
    },
    addresses() {
      return {
        gatewayRegister: boundAddress(register.net, reg.host, reg.port),
        gatewayInner: boundAddress(inner, cfg.lanIp, cfg.startPort),
      };
    },
  };
}
