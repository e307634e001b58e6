import type { LocalControl } from './control.ts';

/** The methods of `LocalControl` a bus can run on another node: arguments and results are plain JSON. */
export type ControlMethods = Pick<
  LocalControl,
  | 'push'
  | 'describe'
  | 'bind'
  | 'join'
  | 'leave'
  | 'dissolve'
  | 'session'
  | 'setSession'
  | 'mergeSession'
  | 'close'
  | 'connectionsOf'
  | 'membersOf'
  | 'gatewayAddress'
>;
export type ControlMethod = keyof ControlMethods;
export type ControlResult<M extends ControlMethod> = ReturnType<ControlMethods[M]>;

/**
 * Runs connection-addressed calls where the connections are: on the node that holds one connection (its id names
 * the node), or on every live node for a query about a user or a channel. One process: everything is local.
 */
export interface ControlBus {
  /** This node's part: what the other nodes' calls run here. */
  readonly local: LocalControl;
  /** Runs on the node holding connection `id`; undefined when no live node can answer for it. */
  onOwner<M extends ControlMethod>(id: string, method: M, ...args: Parameters<ControlMethods[M]>): Promise<ControlResult<M> | undefined>;
  /** Runs on every live node (this one included); one result per node that answered. */
  onEvery<M extends ControlMethod>(method: M, ...args: Parameters<ControlMethods[M]>): Promise<ControlResult<M>[]>;
  /**
   * Fire and forget: every other live node runs its `listen(topic)` handler with `payload` (plain JSON). For what a
   * transport keeps in step across nodes without an answer (a Pusher client event relayed to the other nodes'
   * sockets). At most once: a node that is away meanwhile misses it.
   */
  notify(topic: string, payload: unknown): void;
  /** Handles `topic`'s notifications from the other nodes (one handler per topic). */
  listen(topic: string, handler: (payload: unknown) => void): void;
  close(): Promise<void>;
}

/** The node holding a connection did not answer in time (the API answers 503: retry). */
export class ControlTimeout extends Error {}

/** The node a connection id names: ids are `<node>.<counter>` (`Context.nextSessionId`). */
export function nodeOfConnection(id: string): string | undefined {
  const dot = id.indexOf('.');
  return dot > 0 ? id.slice(0, dot) : undefined;
}

export const CONTROL_METHODS: ReadonlySet<string> = new Set<ControlMethod>([
  'push',
  'describe',
  'bind',
  'join',
  'leave',
  'dissolve',
  'session',
  'setSession',
  'mergeSession',
  'close',
  'connectionsOf',
  'membersOf',
  'gatewayAddress',
]);

/** One process: every call runs here. */
export class LocalBus implements ControlBus {
  constructor(readonly local: LocalControl) {}

  onOwner<M extends ControlMethod>(_id: string, method: M, ...args: Parameters<ControlMethods[M]>): Promise<ControlResult<M> | undefined> {
    return Promise.resolve(runLocal(this.local, method, args));
  }

  onEvery<M extends ControlMethod>(method: M, ...args: Parameters<ControlMethods[M]>): Promise<ControlResult<M>[]> {
    return Promise.resolve([runLocal(this.local, method, args)]);
  }

  notify(): void {}

  listen(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Calls `method` on the local control with arguments that came as a list (from a caller or from another node). */
export function runLocal<M extends ControlMethod>(local: LocalControl, method: M, args: Parameters<ControlMethods[M]> | unknown[]): ControlResult<M> {
  const fn = local[method] as (...a: unknown[]) => ControlResult<M>;
  return fn.apply(local, args as unknown[]);
}
