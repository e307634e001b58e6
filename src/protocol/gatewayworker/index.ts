// GatewayWorker's wire protocols, pure codecs without I/O: GatewayProtocol frames, commands, client_id, Register lines.
export * from './commands.ts';
export * from './frame.ts';
export * from './body.ts';
export * from './client-id.ts';
export * from './register.ts';
