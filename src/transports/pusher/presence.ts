/** One user on one presence channel: the user_info of their first socket there, and how many sockets they have. */
interface Member {
  info: unknown;
  sockets: number;
}

/**
 * Who is on each presence channel of this node, by user id: a user with several sockets (tabs) is one member, so
 * `member_added` goes out for the first socket and `member_removed` after the last, and the member list and count
 * the clients get are de-duplicated (pusher-js counts nothing itself). Local to the node; on several nodes the
 * members have to be summed in Redis (see docs/pusher.md).
 */
export class PresenceMembers {
  private readonly byChannel = new Map<string, Map<string, Member>>();

  /** Adds a socket of `user`; true when it is the user's first on the channel. */
  join(channel: string, user: string, info: unknown): boolean {
    let members = this.byChannel.get(channel);
    if (members === undefined) this.byChannel.set(channel, (members = new Map()));
    const m = members.get(user);
    if (m !== undefined) {
      m.sockets++;
      return false;
    }
    members.set(user, { info, sockets: 1 });
    return true;
  }

  /** Removes a socket of `user`; true when it was the user's last on the channel. */
  leave(channel: string, user: string): boolean {
    const members = this.byChannel.get(channel);
    const m = members?.get(user);
    if (members === undefined || m === undefined) return false;
    if (--m.sockets > 0) return false;
    members.delete(user);
    if (members.size === 0) this.byChannel.delete(channel);
    return true;
  }

  has(channel: string, user: string): boolean {
    return this.byChannel.get(channel)?.has(user) ?? false;
  }

  count(channel: string): number {
    return this.byChannel.get(channel)?.size ?? 0;
  }

  userIds(channel: string): string[] {
    return [...(this.byChannel.get(channel)?.keys() ?? [])];
  }

  infoOf(channel: string, user: string): unknown {
    return this.byChannel.get(channel)?.get(user)?.info;
  }

  /** The `data` of a presence `subscription_succeeded`: `{"presence":{"ids","hash","count"}}`. */
  snapshot(channel: string): string {
    const ids: string[] = [];
    const hash: Record<string, unknown> = {};
    for (const [id, m] of this.byChannel.get(channel) ?? []) {
      ids.push(id);
      hash[id] = m.info ?? null;
    }
    return JSON.stringify({ presence: { ids, hash, count: ids.length } });
  }
}
