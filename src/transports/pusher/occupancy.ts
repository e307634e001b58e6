// `channel_occupied` / `channel_vacated` webhooks (reference §11), once for the whole cluster: a channel's Pusher
// sockets are counted in the members registry under a key no channel can have, so the first socket anywhere and
// the last one anywhere are decided atomically (Redis), and a dead node's sockets are subtracted by its reaper.
import type { PusherState } from './handlers.ts';

/** Herald channel names never hold a `!`, so these keys meet no presence channel. */
export const OCCUPANCY = '!sockets:';
const SOCKETS = 's';

export function occupied(s: PusherState, herald: string, channel: string): void {
  if (s.webhooks === undefined) return;
  s.ctx.members.join(OCCUPANCY + herald, SOCKETS, '').then(
    (first) => first && s.webhooks?.emit({ name: 'channel_occupied', channel }),
    (err: unknown) => s.ctx.log.warn({ err, channel }, 'pusher occupancy: the members store did not answer; no channel_occupied'),
  );
}

export function released(s: PusherState, herald: string, channel: string): void {
  if (s.webhooks === undefined) return;
  s.ctx.members.leave(OCCUPANCY + herald, SOCKETS).then(
    (last) => last && s.webhooks?.emit({ name: 'channel_vacated', channel }),
    (err: unknown) => s.ctx.log.warn({ err, channel }, 'pusher occupancy: the members store did not answer; no channel_vacated'),
  );
}
