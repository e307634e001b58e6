import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LocalControl } from '../core/control.ts';
import {
  CONTROL_METHODS,
  ControlTimeout,
  nodeOfConnection,
  runLocal,
  type ControlBus,
  type ControlMethod,
  type ControlMethods,
  type ControlResult,
} from '../core/control-bus.ts';

export interface RedisControlOptions {
  prefix: string;
  nodeId: string;
  /** How long a call waits for the nodes' answers. */
  timeoutMs: number;
  log: Logger;
}

interface Request {
  id: number;
  from: string;
  method: string;
  args: unknown[];
}

interface Waiting {
  results: unknown[];
  /** Answers expected; unknown (-1) until PUBLISH said how many nodes received the request. */
  expect: number;
  done(results: unknown[], timedOut: boolean): void;
  timer: NodeJS.Timeout;
}

/**
 * Connection-addressed calls across nodes over Redis pub/sub. Each node listens on its own channel (calls for its
 * connections, and answers to its calls) and on one channel shared by all (queries). A call for a connection goes
 * to the node its id names; PUBLISH answers how many nodes received a request, which is how many answers to
 * wait for, so a query needs no list of live nodes and a call to a node that is gone fails at once. A call for
 * this node's own connections never leaves the process.
 * On a Redis Cluster both are sharded channels (SPUBLISH/SSUBSCRIBE): a classic PUBLISH there is copied to every
 * node of the cluster and answers only the receivers on the node it was sent to, which would break the count of
 * answers to wait for; SPUBLISH answers the receivers of the channel's shard, which are all of them.
 */
export class RedisControlBus implements ControlBus {
  private readonly waiting = new Map<number, Waiting>();
  private readonly listeners = new Map<string, (payload: unknown) => void>();
  private seq = 0;
  private readonly all: string;
  private readonly own: string;

  private readonly sharded: boolean;

  constructor(
    private readonly pub: Redis | Cluster,
    private readonly sub: Redis | Cluster,
    readonly local: LocalControl,
    private readonly opts: RedisControlOptions,
  ) {
    this.all = `${opts.prefix}ctl`;
    this.own = this.channelOf(opts.nodeId);
    this.sharded = sub.isCluster;
    sub.on(this.sharded ? 'smessage' : 'message', (channel: string, text: string) => this.receive(channel, text));
  }

  /** Subscribes (again after a reconnect: ioredis re-subscribes by itself). */
  async start(): Promise<void> {
    // Sharded channels of different slots are subscribed one by one (each on its own shard).
    if (this.sharded) await Promise.all([this.sub.ssubscribe(this.all), this.sub.ssubscribe(this.own)]);
    else await this.sub.subscribe(this.all, this.own);
  }

  private async send(channel: string, text: string): Promise<number> {
    // ioredis types SPUBLISH's reply as unknown; Redis answers an integer, as for PUBLISH.
    return this.sharded ? Number(await this.pub.spublish(channel, text)) : this.pub.publish(channel, text);
  }

  async onOwner<M extends ControlMethod>(id: string, method: M, ...args: Parameters<ControlMethods[M]>): Promise<ControlResult<M> | undefined> {
    const node = nodeOfConnection(id);
    if (node === undefined || node === this.opts.nodeId) return runLocal(this.local, method, args);
    const { results, timedOut } = await this.call(this.channelOf(node), method, args);
    if (timedOut) throw new ControlTimeout(`node ${node} did not answer within ${this.opts.timeoutMs} ms`);
    return results[0] as ControlResult<M> | undefined;
  }

  async onEvery<M extends ControlMethod>(method: M, ...args: Parameters<ControlMethods[M]>): Promise<ControlResult<M>[]> {
    const here = runLocal(this.local, method, args);
    const { results, timedOut } = await this.call(this.all, method, args);
    if (timedOut) this.opts.log.warn({ method, answered: results.length }, 'a cluster query went without some nodes: they did not answer in time');
    return [here, ...(results as ControlResult<M>[])];
  }

  notify(topic: string, payload: unknown): void {
    this.send(this.all, JSON.stringify({ note: topic, from: this.opts.nodeId, data: payload })).catch((err: Error) => {
      this.opts.log.warn({ err: err.message, topic }, 'a cluster notification could not be sent');
    });
  }

  listen(topic: string, handler: (payload: unknown) => void): void {
    this.listeners.set(topic, handler);
  }

  close(): Promise<void> {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.done(w.results, true);
    }
    this.waiting.clear();
    return Promise.resolve();
  }

  private channelOf(node: string): string {
    return `${this.opts.prefix}ctl:${node}`;
  }

  private async call(channel: string, method: string, args: unknown[]): Promise<{ results: unknown[]; timedOut: boolean }> {
    const id = ++this.seq;
    const answered = new Promise<{ results: unknown[]; timedOut: boolean }>((resolve) => {
      const timer = setTimeout(() => this.finish(id, true), this.opts.timeoutMs);
      timer.unref();
      // Registered before publishing: an answer can arrive before PUBLISH's own reply does.
      this.waiting.set(id, { results: [], expect: -1, done: (results, timedOut) => resolve({ results, timedOut }), timer });
    });
    const request: Request = { id, from: this.opts.nodeId, method, args };
    let receivers: number;
    try {
      receivers = await this.send(channel, JSON.stringify(request));
    } catch (err) {
      this.finish(id, false);
      throw err;
    }
    const w = this.waiting.get(id);
    if (w !== undefined) {
      // On the shared channel this node receives its own request too, and ignores it.
      w.expect = channel === this.all ? receivers - 1 : receivers;
      if (w.results.length >= w.expect) this.finish(id, false);
    }
    return answered;
  }

  private finish(id: number, timedOut: boolean): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.done(w.results, timedOut);
  }

  private receive(channel: string, text: string): void {
    if (channel !== this.all && channel !== this.own) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as Record<string, unknown>;
    if (typeof m.re === 'number') return this.answer(m.re, m.result);
    if (typeof m.note === 'string') {
      if (m.from !== this.opts.nodeId) this.listeners.get(m.note)?.(m.data);
      return;
    }
    if (typeof m.id === 'number' && typeof m.from === 'string' && typeof m.method === 'string' && Array.isArray(m.args)) {
      if (m.from === this.opts.nodeId) return;
      this.serve({ id: m.id, from: m.from, method: m.method, args: m.args as unknown[] });
    }
  }

  private answer(id: number, result: unknown): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    w.results.push(result);
    if (w.expect >= 0 && w.results.length >= w.expect) this.finish(id, false);
  }

  private serve(req: Request): void {
    // Only the listed methods, never anything inherited: the request names a method of LocalControl by string.
    if (!CONTROL_METHODS.has(req.method)) return;
    let result: unknown;
    try {
      result = runLocal(this.local, req.method as ControlMethod, req.args);
    } catch (err) {
      this.opts.log.warn({ err, method: req.method }, 'a cluster control call failed here');
      result = null;
    }
    // `undefined` (no such connection here) travels as a missing field.
    this.send(this.channelOf(req.from), JSON.stringify({ re: req.id, result })).catch(() => {});
  }
}
