import type { Broker } from './broker.ts';

/** Single process: there are no other nodes, and the dispatcher delivers locally itself. */
export class MemoryBroker implements Broker {
  readonly deliversAll = false;

  start(): Promise<void> {
    return Promise.resolve();
  }

  watch(): Promise<void> {
    return Promise.resolve();
  }

  unwatch(): void {}

  delivered(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
