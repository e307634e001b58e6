import type { Broker } from './broker.ts';

/** Single-process broker: there are no other nodes, so forwarding is a no-op. */
export class MemoryBroker implements Broker {
  start(): Promise<void> {
    return Promise.resolve();
  }

  publish(): void {}

  watch(): Promise<void> {
    return Promise.resolve();
  }

  unwatch(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
