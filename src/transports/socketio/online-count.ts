import type { Hub } from '../../core/hub.ts';

/** web-msg-sender's text, byte for byte: "currently N people online, M pages open" with the HTML it carries. */
export function onlineCountText(users: number, pages: number): string {
  return `当前<b>${users}</b>人在线，共打开<b>${pages}</b>个页面`;
}

/**
 * The `update_online_count` numbers: users and logged-in connections across every transport of the hub (native,
 * websocket, Socket.IO), as one hub serves them all. Anonymous Socket.IO sockets are connections of no user and,
 * as in the original, are not counted as pages.
 */
export class OnlineCount {
  private lastUsers = 0;
  private lastPages = 0;

  constructor(
    private readonly hub: Hub,
    private readonly anonymous: () => number,
  ) {}

  current(): { users: number; pages: number } {
    return { users: this.hub.userCount, pages: this.hub.connectionCount - this.anonymous() };
  }

  text(): string {
    const { users, pages } = this.current();
    return onlineCountText(users, pages);
  }

  /**
   * The timer's check: the text to broadcast when either number changed since the last broadcast, else undefined.
   * Starts from 0/0, as the original does.
   */
  changed(): string | undefined {
    const { users, pages } = this.current();
    if (users === this.lastUsers && pages === this.lastPages) return undefined;
    this.lastUsers = users;
    this.lastPages = pages;
    return onlineCountText(users, pages);
  }
}
