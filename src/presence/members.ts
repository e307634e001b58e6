/**
 * Who is a member of each presence channel, by user id, across every node: a user with several sockets (tabs,
 * devices, nodes) is one member, so a protocol can announce a user's first socket and their last, and list each user
 * once (the Pusher protocol's presence channels: pusher-js counts nothing itself).
 *
 * Contract (test/contract/members.contract.ts runs it against each implementation):
 * - `join` resolves true for a user's first socket on the channel anywhere, `leave` true for their last one.
 * - `list` and `count` see every live node's members once the calls that made them have resolved.
 * - The sockets of a node that died stop counting within three heartbeats; the users who had no other socket are
 *   handed to the `onVanished` handlers on the node that noticed (Redis), so it can tell the others.
 */
export interface Members {
  /** Adds a socket of `user`; `info` (JSON text) is kept from the user's first socket. True: the user's first. */
  join(channel: string, user: string, info: string): Promise<boolean>;
  /** Removes a socket of `user`; true when it was the user's last. */
  leave(channel: string, user: string): Promise<boolean>;
  /** Each member once, with the info (JSON text) of their first socket. */
  list(channel: string): Promise<Map<string, string>>;
  count(channel: string): Promise<number>;
  has(channel: string, user: string): Promise<boolean>;
  /** Called for each member whose sockets were all on a node that died. */
  onVanished(handler: (channel: string, user: string) => void): void;
  close(): Promise<void>;
}

interface Member {
  info: string;
  sockets: number;
}

/** One process: the members are a map here; no node can die without this one. */
export class MemoryMembers implements Members {
  private readonly byChannel = new Map<string, Map<string, Member>>();

  join(channel: string, user: string, info: string): Promise<boolean> {
    let members = this.byChannel.get(channel);
    if (members === undefined) this.byChannel.set(channel, (members = new Map()));
    const m = members.get(user);
    if (m !== undefined) {
      m.sockets++;
      return Promise.resolve(false);
    }
    members.set(user, { info, sockets: 1 });
    return Promise.resolve(true);
  }

  leave(channel: string, user: string): Promise<boolean> {
    const members = this.byChannel.get(channel);
    const m = members?.get(user);
    if (members === undefined || m === undefined) return Promise.resolve(false);
    if (--m.sockets > 0) return Promise.resolve(false);
    members.delete(user);
    if (members.size === 0) this.byChannel.delete(channel);
    return Promise.resolve(true);
  }

  list(channel: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [user, m] of this.byChannel.get(channel) ?? []) out.set(user, m.info);
    return Promise.resolve(out);
  }

  count(channel: string): Promise<number> {
    return Promise.resolve(this.byChannel.get(channel)?.size ?? 0);
  }

  has(channel: string, user: string): Promise<boolean> {
    return Promise.resolve(this.byChannel.get(channel)?.has(user) ?? false);
  }

  onVanished(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
