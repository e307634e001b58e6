import type { Socket } from 'node:net';

/**
 * Replies of a line protocol, one per line: written in line order although commands finish asynchronously, and
 * those finished in one event-loop turn in one write, since a pipelining backend sends hundreds of lines per
 * packet and a syscall per reply line would cost more than the commands themselves.
 */
export class ReplyQueue {
  private chain: Promise<void> = Promise.resolve();
  private out = '';

  constructor(private readonly socket: Socket) {}

  /** Queues the reply of the next line (`''` for a line that gets no reply). */
  add(reply: Promise<string>): void {
    this.chain = this.chain.then(async () => this.buffer(await reply));
  }

  /** Runs `fn` once every reply queued so far is written. */
  after(fn: () => void): void {
    this.chain = this.chain.then(() => {
      this.flush();
      fn();
    });
  }

  private buffer(text: string): void {
    if (text === '') return;
    if (this.out === '') setImmediate(() => this.flush());
    this.out += text;
  }

  private flush(): void {
    const text = this.out;
    this.out = '';
    if (text !== '' && !this.socket.destroyed) this.socket.write(text);
  }
}
