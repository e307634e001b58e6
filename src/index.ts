// Public surface of the herald package (`import ... from 'herald'`, docs/library.md). The browser SDK is `herald/client`.
export { createHerald, type Herald, type HeraldOptions, type PublishMessage, type PublishReply } from './library.ts';
export { loadConfig, ConfigError, type HeraldConfig, type ConfigInput } from './config.ts';
export { ApiError } from './api/errors.ts';
export { TokenService, type ClientIdentity } from './auth/tokens.ts';
export { signWebhook } from './core/upstream.ts';
export { CloseCode, ErrorCode, isReconnectCode } from './protocol/codes.ts';
export type { Store, StoredMessage, AppendResult } from './store/store.ts';
export type { Broker } from './broker/broker.ts';
export type { Connection } from './core/connection.ts';
export type { Envelope, PublishTarget, Target } from './domain/streams.ts';
