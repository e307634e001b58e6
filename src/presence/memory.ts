import type { Hub } from '../core/hub.ts';
import type { ChannelCount, Presence, UserCount } from './presence.ts';

/** One process: presence is the hub itself. */
export class MemoryPresence implements Presence {
  constructor(private readonly hub: Hub) {}

  userConnections(user: string): Promise<number> {
    return Promise.resolve(this.hub.connectionsOf(user).size);
  }

  users(limit: number): Promise<{ count: number; users: UserCount[] }> {
    const users: UserCount[] = [];
    for (const user of this.hub.users()) {
      if (users.length >= limit) break;
      users.push({ user, connections: this.hub.connectionsOf(user).size });
    }
    return Promise.resolve({ count: this.hub.userCount, users });
  }

  channel(channel: string): Promise<{ connections: number; users: string[] }> {
    const members = this.hub.membersOf(channel);
    return Promise.resolve({ connections: members.size, users: [...new Set([...members].map((c) => c.user))] });
  }

  channels(limit: number): Promise<{ count: number; channels: ChannelCount[] }> {
    const channels: ChannelCount[] = [];
    for (const [channel, members] of this.hub.channels()) {
      if (channels.length >= limit) break;
      channels.push({ channel, connections: members.size, users: new Set([...members].map((c) => c.user)).size });
    }
    return Promise.resolve({ count: this.hub.channelCount, channels });
  }

  totals(): Promise<{ connections: number; users: number; channels: number; nodes: number }> {
    return Promise.resolve({ connections: this.hub.connectionCount, users: this.hub.userCount, channels: this.hub.channelCount, nodes: 1 });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
