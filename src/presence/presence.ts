/**
 * Who is online: connection counts per user and per channel, across every node of the installation.
 *
 * Contract (test/contract/presence.contract.ts runs it against each implementation):
 * - Counts include every transport (native, Socket.IO, raw WebSocket) of every live node.
 * - A change made on this node is visible to queries on any node once the call that made it has returned
 *   (Redis: the update is sent before the next query on the same connection; other nodes see it within one
 *   round trip).
 * - A node that dies stops counting within `staleAfterMs` (Redis: node heartbeats with expiry). Memory: one node.
 */
export interface UserCount {
  user: string;
  connections: number;
}

export interface ChannelCount {
  channel: string;
  connections: number;
  users: number;
}

export interface Presence {
  /** Connections of one user across the cluster. */
  userConnections(user: string): Promise<number>;
  users(limit: number): Promise<{ count: number; users: UserCount[] }>;
  channel(channel: string): Promise<{ connections: number; users: string[] }>;
  channels(limit: number): Promise<{ count: number; channels: ChannelCount[] }>;
  totals(): Promise<{ connections: number; users: number; channels: number; nodes: number }>;
  close(): Promise<void>;
}
