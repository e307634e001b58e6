// Frames that go to a channel's Pusher sockets on every node without being stored: presence changes, relayed client
// events and subscription counts. This node writes them to its own sockets; the control bus asks the others to.
import type { Context } from '../../context.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { PusherConnection } from './connection.ts';

const TOPIC = 'pusher';

interface Note {
  /** Herald channel. */
  c: string;
  /** The frame's JSON text. */
  f: string;
  /** A connection id to skip (the sender). */
  x?: string;
}

/** Makes this node write the frames other nodes relay; once per process, whatever the number of apps. */
export function listenForRelays(ctx: Context): void {
  ctx.control.listen(TOPIC, (payload) => {
    const n = payload as Partial<Note>;
    if (typeof n.c === 'string' && typeof n.f === 'string') writeHere(ctx, n.c, frameText(n.f), n.x);
  });
}

/** Writes `text` to every Pusher socket on `herald`, on every node, except the connection `except`. */
export function toChannel(ctx: Context, herald: string, text: string, except?: string): void {
  writeHere(ctx, herald, frameText(text), except);
  const note: Note = except === undefined ? { c: herald, f: text } : { c: herald, f: text, x: except };
  ctx.control.notify(TOPIC, note);
}

function writeHere(ctx: Context, herald: string, frame: Buffer, except: string | undefined): void {
  for (const c of ctx.hub.membersOf(herald)) if (c instanceof PusherConnection && c.id !== except) c.send(frame);
}
