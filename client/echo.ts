// Herald's Laravel Echo connector: Echo's own Pusher connector over pusher-js, pointed at Herald's resumable Pusher
// endpoint (`/herald/app/<key>`, docs/pusher.md), so that after a reconnect or a server restart every channel and the
// user's own channel continue where they stopped: nothing published meanwhile is lost. The Echo API is unchanged;
// switching `broadcaster` to `HeraldConnector` is the only change a page makes.
import Echo from 'laravel-echo';

/** What the connector uses of a pusher-js instance (pusher-js's own types, narrowed). */
interface PusherLike {
  connection: { bind(event: string, callback: (data: unknown) => void): void };
  send_event(event: string, data: unknown, channel?: string): boolean;
  unsubscribe(name: string): void;
}

type PusherClass = new (key: string, options: Record<string, unknown>) => PusherLike;

interface PusherMessage {
  event: string;
  channel?: string;
  data?: unknown;
}

/**
 * Keeps the position of the last message received on each channel (the `pusher_internal:herald_at` frame that
 * precedes it; pusher-js hands `pusher_internal:` events to no application callback) and sends them all as
 * `herald:resume` each time the connection is (re)established: the server replays what each channel missed, in
 * order, then continues live. A channel the application leaves is forgotten.
 */
export function resumeChannels(pusher: PusherLike): void {
  const positions = new Map<string, string>();
  /** A position seen, committed once its message has gone to the application. */
  const pending = new Map<string, string>();
  pusher.connection.bind('message', (raw) => {
    const m = raw as PusherMessage;
    if (m.channel === undefined) return;
    if (m.event === 'pusher_internal:herald_at') {
      if (typeof m.data === 'string') pending.set(m.channel, m.data);
      return;
    }
    if (m.event === 'pusher_internal:herald_resumed') {
      // Where the channel starts when this client had no usable position: what follows is new to it.
      const d = m.data as { recovered?: boolean; at?: string } | undefined;
      if (typeof d?.at === 'string' && (!positions.has(m.channel) || d.recovered === false)) positions.set(m.channel, d.at);
      return;
    }
    const at = pending.get(m.channel);
    if (at !== undefined) {
      pending.delete(m.channel);
      positions.set(m.channel, at);
    }
  });
  pusher.connection.bind('connected', () => {
    pending.clear();
    pusher.send_event('herald:resume', { positions: Object.fromEntries(positions) });
  });
  const unsubscribe = pusher.unsubscribe.bind(pusher);
  pusher.unsubscribe = (name: string) => {
    positions.delete(name);
    pending.delete(name);
    unsubscribe(name);
  };
}

/**
 * `new Echo({ broadcaster: HeraldConnector, key, wsHost, wsPort, ... })`: the options are Echo's `pusher` or `reverb`
 * options as they are; pusher-js comes from `options.Pusher` or `window.Pusher`, as with Echo's own connector.
 * Echo constructs it, and gets Echo's Pusher connector over a resuming pusher-js client.
 */
export const HeraldConnector = function HeraldConnector(options: Record<string, unknown>): unknown {
  const g = globalThis as { Pusher?: PusherClass };
  const PusherCtor = (options.Pusher as PusherClass | undefined) ?? g.Pusher;
  if (PusherCtor === undefined) throw new Error('HeraldConnector needs pusher-js: pass `Pusher` in the options, or set window.Pusher');
  const wsPath = typeof options.wsPath === 'string' ? options.wsPath : '';
  const pusherOptions = { cluster: '', ...options, wsPath: `${wsPath}/herald` };
  const client = new PusherCtor(options.key as string, pusherOptions);
  resumeChannels(client);
  // The application's Echo registers its interceptors (X-Socket-ID) itself; this inner one only builds the connector.
  const inner = new Echo({ ...options, broadcaster: 'pusher', client, withoutInterceptors: true } as never) as unknown as { connector: unknown };
  return inner.connector;
} as unknown as new (options: Record<string, unknown>) => unknown;
