// PHP serialize()/unserialize() and the JSON bridge: pure codecs, no I/O (GatewayWorker mode's sessions and replies).
export * from './value.ts';
export * from './serialize.ts';
export * from './unserialize.ts';
export * from './json.ts';
export * from './merge.ts';
