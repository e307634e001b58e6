// The hub: who is connected to this process and to which channels, what observers (broker watch, presence) are
// told, and how one message reaches every local recipient.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Connection } from '../../src/core/connection.ts';
import type { Envelope } from '../../src/domain/streams.ts';
import { Hub, type HubObserver } from '../../src/core/hub.ts';
import { RecordingConnection } from '../helpers/recording-connection.ts';

/** Writes every observer call as one line, so a test can compare the whole sequence. */
function observed(hub: Hub): string[] {
  const log: string[] = [];
  const o: HubObserver = {
    connected: (c) => log.push(`connected ${c.id}`),
    disconnected: (c, channels) => log.push(`disconnected ${c.id} [${channels.join(',')}]`),
    subscribed: (c, ch) => log.push(`subscribed ${c.id} ${ch}`),
    unsubscribed: (c, ch) => log.push(`unsubscribed ${c.id} ${ch}`),
    interest: (stream, on) => log.push(`interest ${stream} ${on ? 'on' : 'off'}`),
  };
  hub.observe(o);
  return log;
}

const interestOnly = (log: string[]) => log.filter((l) => l.startsWith('interest '));
const ids = (set: ReadonlySet<Connection>) => [...set].map((c) => c.id).sort();
const env = (stream: string, offset: number, data = '{"n":1}'): Envelope => ({ stream, offset, epoch: 'e1', data });

describe('Hub bookkeeping', () => {
  it('keeps a user entry while the user has a connection and deletes it with the last one', () => {
    const hub = new Hub();
    const a1 = new RecordingConnection('a1', 'alice');
    const a2 = new RecordingConnection('a2', 'alice');
    const b1 = new RecordingConnection('b1', 'bob');
    hub.add(a1);
    hub.add(a2);
    hub.add(b1);
    assert.deepEqual(ids(hub.connectionsOf('alice')), ['a1', 'a2']);
    assert.deepEqual([...hub.users()].sort(), ['alice', 'bob']);
    assert.equal(hub.connectionCount, 3);

    hub.remove(a1);
    assert.deepEqual(ids(hub.connectionsOf('alice')), ['a2']);
    hub.remove(a2);
    assert.equal(hub.connectionsOf('alice').size, 0);
    assert.deepEqual([...hub.users()], ['bob'], 'the emptied user entry is deleted');
    assert.equal(hub.userCount, 1);
    assert.equal(hub.connectionCount, 1);
  });

  it('keeps channels both ways (hub -> members, connection -> channels) and deletes an emptied channel', () => {
    const hub = new Hub();
    const a = new RecordingConnection('a', 'alice');
    const b = new RecordingConnection('b', 'bob');
    hub.add(a);
    hub.add(b);
    assert.equal(hub.subscribe(a, 'news', 10), true);
    assert.equal(hub.subscribe(b, 'news', 10), true);
    assert.equal(hub.subscribe(a, 'chat', 10), true);
    assert.deepEqual(ids(hub.membersOf('news')), ['a', 'b']);
    assert.deepEqual([...a.channels].sort(), ['chat', 'news']);
    assert.equal(hub.channelCount, 2);

    assert.equal(hub.unsubscribe(a, 'news'), true);
    assert.deepEqual(ids(hub.membersOf('news')), ['b']);
    assert.deepEqual([...a.channels], ['chat']);
    assert.equal(hub.unsubscribe(a, 'news'), false, 'a channel the connection is not in');
    assert.equal(hub.unsubscribe(b, 'news'), true);
    assert.deepEqual(
      [...hub.channels()].map(([ch]) => ch),
      ['chat'],
      'the emptied channel entry is deleted',
    );
    assert.equal(hub.channelCount, 1);
  });

  it('removing a connection takes it out of every channel, on both sides', () => {
    const hub = new Hub();
    const a = new RecordingConnection('a', 'alice');
    const b = new RecordingConnection('b', 'bob');
    hub.add(a);
    hub.add(b);
    hub.subscribe(a, 'x', 10);
    hub.subscribe(a, 'y', 10);
    hub.subscribe(b, 'y', 10);
    hub.remove(a);
    assert.equal(a.channels.size, 0);
    assert.equal(hub.membersOf('x').size, 0);
    assert.deepEqual(ids(hub.membersOf('y')), ['b']);
    assert.deepEqual(
      [...hub.channels()].map(([ch]) => ch),
      ['y'],
    );
    assert.equal(hub.count({ kind: 'all' }), 1);
  });

  it('subscribing twice to one channel is one membership', () => {
    const hub = new Hub();
    const log = observed(hub);
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    assert.equal(hub.subscribe(a, 'news', 10), true);
    assert.equal(hub.subscribe(a, 'news', 10), true);
    assert.equal(hub.membersOf('news').size, 1);
    assert.deepEqual(
      log.filter((l) => l.startsWith('subscribed')),
      ['subscribed a news'],
    );
    hub.unsubscribe(a, 'news');
    assert.equal(hub.channelCount, 0, 'one unsubscribe undoes it');
  });

  it('refuses a channel past the limit, but not one the connection is already in', () => {
    const hub = new Hub();
    const log = observed(hub);
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    assert.equal(hub.subscribe(a, 'c1', 2), true);
    assert.equal(hub.subscribe(a, 'c2', 2), true);
    assert.equal(hub.subscribe(a, 'c3', 2), false);
    assert.deepEqual([...a.channels].sort(), ['c1', 'c2']);
    assert.equal(hub.membersOf('c3').size, 0);
    assert.equal(
      log.some((l) => l.includes('c3')),
      false,
      'no observer hears of the refused channel',
    );
    assert.equal(hub.subscribe(a, 'c1', 2), true, 'already a member: not a new channel');
    hub.unsubscribe(a, 'c1');
    assert.equal(hub.subscribe(a, 'c3', 2), true, 'room again after leaving one');
  });

  it('an anonymous connection gets broadcasts only and belongs to no user', () => {
    const hub = new Hub();
    const log = observed(hub);
    const anon = new RecordingConnection('anon', '');
    hub.add(anon);
    assert.equal(hub.connectionCount, 1);
    assert.equal(hub.userCount, 0);
    assert.deepEqual([...hub.users()], []);
    assert.deepEqual(interestOnly(log), [], 'no user stream to watch');

    assert.equal(hub.deliver({ kind: 'user', user: '' }, env('user:', 1)), 0);
    assert.equal(hub.deliver({ kind: 'all' }, env('broadcast', 1)), 1);
    assert.deepEqual(anon.received, ['broadcast@1']);

    hub.remove(anon);
    assert.equal(hub.connectionCount, 0);
    assert.deepEqual(interestOnly(log), []);
  });

  it('removing a connection that is not there changes nothing and tells no observer', () => {
    const hub = new Hub();
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    hub.remove(a);
    const log = observed(hub);
    hub.remove(a);
    hub.remove(new RecordingConnection('never', 'alice'));
    assert.deepEqual(log, []);
    assert.equal(hub.connectionCount, 0);
  });
});

describe('Hub observers', () => {
  it('hear interest on with the first local connection of a user or channel, off with the last, once each', () => {
    const hub = new Hub();
    const log = observed(hub);
    const a1 = new RecordingConnection('a1', 'alice');
    const a2 = new RecordingConnection('a2', 'alice');
    hub.add(a1);
    hub.add(a2);
    hub.subscribe(a1, 'news', 10);
    hub.subscribe(a2, 'news', 10);
    assert.deepEqual(interestOnly(log), ['interest user:alice on', 'interest channel:news on']);

    hub.unsubscribe(a1, 'news');
    hub.remove(a1);
    assert.deepEqual(interestOnly(log), ['interest user:alice on', 'interest channel:news on'], 'alice and news still have a2');

    hub.remove(a2);
    assert.deepEqual(interestOnly(log), ['interest user:alice on', 'interest channel:news on', 'interest user:alice off', 'interest channel:news off']);

    // Interest comes back with a new first connection.
    hub.add(new RecordingConnection('a3', 'alice'));
    assert.deepEqual(interestOnly(log).slice(4), ['interest user:alice on']);
  });

  it('a channel left by unsubscribe loses interest then, not at disconnect', () => {
    const hub = new Hub();
    const log = observed(hub);
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    hub.subscribe(a, 'news', 10);
    hub.unsubscribe(a, 'news');
    hub.remove(a);
    assert.deepEqual(interestOnly(log), ['interest user:alice on', 'interest channel:news on', 'interest channel:news off', 'interest user:alice off']);
  });

  it('hear connects, subscriptions and disconnects, with the channels a connection was in when it left', () => {
    const hub = new Hub();
    const log = observed(hub);
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    hub.subscribe(a, 'x', 10);
    hub.subscribe(a, 'y', 10);
    hub.unsubscribe(a, 'x');
    hub.subscribe(a, 'z', 10);
    hub.remove(a);
    assert.deepEqual(
      log.filter((l) => !l.startsWith('interest ')),
      ['connected a', 'subscribed a x', 'subscribed a y', 'unsubscribed a x', 'subscribed a z', 'disconnected a [y,z]'],
    );
  });

  it('every observer hears every change', () => {
    const hub = new Hub();
    const first = observed(hub);
    const second = observed(hub);
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    hub.subscribe(a, 'x', 10);
    hub.remove(a);
    assert.deepEqual(first, [
      'interest user:alice on',
      'connected a',
      'interest channel:x on',
      'subscribed a x',
      'interest user:alice off',
      'interest channel:x off',
      'disconnected a [x]',
    ]);
    assert.deepEqual(second, first);
  });
});

describe('Hub delivery', () => {
  it('counts the local recipients of each kind of target', () => {
    const hub = new Hub();
    const a1 = new RecordingConnection('a1', 'alice');
    const a2 = new RecordingConnection('a2', 'alice');
    const b = new RecordingConnection('b', 'bob');
    const anon = new RecordingConnection('anon', '');
    for (const c of [a1, a2, b, anon]) hub.add(c);
    hub.subscribe(a1, 'news', 10);
    hub.subscribe(b, 'news', 10);
    hub.subscribe(anon, 'news', 10);
    assert.equal(hub.count({ kind: 'user', user: 'alice' }), 2);
    assert.equal(hub.count({ kind: 'user', user: 'carol' }), 0);
    assert.equal(hub.count({ kind: 'channel', channel: 'news' }), 3);
    assert.equal(hub.count({ kind: 'channel', channel: 'nobody' }), 0);
    assert.equal(hub.count({ kind: 'all' }), 4);
  });

  it('queues on each recipient of the target only, and returns how many took it', () => {
    const hub = new Hub();
    const a1 = new RecordingConnection('a1', 'alice');
    const a2 = new RecordingConnection('a2', 'alice');
    const b = new RecordingConnection('b', 'bob');
    for (const c of [a1, a2, b]) hub.add(c);
    hub.subscribe(b, 'news', 10);

    assert.equal(hub.deliver({ kind: 'user', user: 'alice' }, env('user:alice', 1)), 2);
    assert.equal(hub.deliver({ kind: 'channel', channel: 'news' }, env('channel:news', 1)), 1);
    assert.equal(hub.deliver({ kind: 'all' }, env('broadcast', 1)), 3);
    assert.equal(hub.deliver({ kind: 'user', user: 'carol' }, env('user:carol', 1)), 0);
    assert.deepEqual(a1.received, ['user:alice@1', 'broadcast@1']);
    assert.deepEqual(a2.received, ['user:alice@1', 'broadcast@1']);
    assert.deepEqual(b.received, ['channel:news@1', 'broadcast@1']);
    assert.equal(hub.deliveries, 6);
    assert.equal(hub.dropped, 0);
  });

  it('counts a connection that refuses a message as dropped, not delivered', () => {
    const hub = new Hub();
    const ok = new RecordingConnection('ok', 'alice');
    const full = new RecordingConnection('full', 'alice');
    full.refusing = true;
    hub.add(ok);
    hub.add(full);
    assert.equal(hub.deliver({ kind: 'user', user: 'alice' }, env('user:alice', 1)), 1);
    assert.equal(hub.deliver({ kind: 'all' }, env('broadcast', 1)), 1);
    assert.equal(hub.deliveries, 2);
    assert.equal(hub.dropped, 2);
    assert.deepEqual(full.received, []);
  });

  it('a recipient that leaves the hub while the message is delivered does not stop the others', () => {
    // As a slow consumer does: its outbox overflows inside deliver(), and the transport removes it.
    class LeavingConnection extends RecordingConnection {
      constructor(
        id: string,
        user: string,
        private readonly hub: Hub,
      ) {
        super(id, user);
      }
      override deliver(): boolean {
        this.hub.remove(this);
        return false;
      }
    }
    const hub = new Hub();
    const conns = [new RecordingConnection('a1', 'alice'), new LeavingConnection('a2', 'alice', hub), new RecordingConnection('a3', 'alice')];
    for (const c of conns) hub.add(c);
    assert.equal(hub.deliver({ kind: 'user', user: 'alice' }, env('user:alice', 1)), 2);
    assert.deepEqual(
      conns.map((c) => c.received.length),
      [1, 0, 1],
    );
    assert.deepEqual(ids(hub.connectionsOf('alice')), ['a1', 'a3']);
    assert.equal(hub.dropped, 1);
  });

  it('makes one Delivery per message, shared by every recipient, with one native frame for all', () => {
    const hub = new Hub();
    const conns = [new RecordingConnection('a', 'alice'), new RecordingConnection('b', 'bob'), new RecordingConnection('c', '')];
    for (const c of conns) hub.add(c);
    const e: Envelope = { stream: 'broadcast', offset: 7, epoch: 'e1', data: '{"hello":"world"}', event: 'greet' };
    assert.equal(hub.deliver({ kind: 'all' }, e), 3);

    const [first, ...others] = conns.map((c) => c.deliveries[0]!);
    for (const d of others) assert.equal(d, first, 'the same Delivery object');
    assert.equal(first!.envelope, e);
    const frame = conns[0]!.frames[0]!;
    for (const c of conns) assert.equal(c.frames[0], frame, 'the same Buffer object, encoded once');

    // The frame is the native message: an unmasked text frame carrying the envelope.
    assert.equal(frame[0], 0x81);
    assert.deepEqual(JSON.parse(frame.subarray(2).toString()), {
      type: 'message',
      stream: 'broadcast',
      offset: 7,
      epoch: 'e1',
      event: 'greet',
      data: { hello: 'world' },
    });

    // Another transport's encoding is made once too, whoever asks first.
    let encoded = 0;
    const encoder = (x: Envelope) => (encoded++, `${x.stream}/${x.offset}`);
    assert.deepEqual(
      conns.map((c) => c.deliveries[0]!.as(encoder)),
      ['broadcast/7', 'broadcast/7', 'broadcast/7'],
    );
    assert.equal(encoded, 1);
  });

  it('makes a new Delivery for each message', () => {
    const hub = new Hub();
    const a = new RecordingConnection('a', 'alice');
    hub.add(a);
    hub.deliver({ kind: 'user', user: 'alice' }, env('user:alice', 1, '1'));
    hub.deliver({ kind: 'user', user: 'alice' }, env('user:alice', 2, '2'));
    assert.notEqual(a.deliveries[0], a.deliveries[1]);
    assert.notEqual(a.frames[0], a.frames[1]);
    assert.deepEqual(a.received, ['user:alice@1', 'user:alice@2']);
  });
});
