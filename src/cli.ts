import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ensureSecrets, secretsPath } from './auth/secrets.ts';
import { parseDuration, TokenService } from './auth/tokens.ts';
import { ConfigError, FLAGS, loadConfig } from './config.ts';
import { isValidUser } from './domain/streams.ts';
import { VERSION } from './paths.ts';
import { createHerald } from './server.ts';
import { runPrimary } from './workers.ts';

const USAGE = `herald ${VERSION}: real-time push server

Usage:
  herald start [--config FILE] [--port N] [--host H] [--data-dir DIR] [--line-port N] [--line-host H] [--workers N]
               [--log-level LEVEL] [--webhook-url URL] [--redis-url URL] [--profile workerman|swoole|gatewayworker] [--dev]
  herald token <user> [--channels a,b] [--ttl 1h] [--config FILE] [--data-dir DIR]
  herald help

Configuration: defaults < herald.json (or --config FILE) < HERALD_* environment < flags. See README.md.`;

async function start(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' }, workers: { type: 'string' } };
  for (const [name, spec] of Object.entries(FLAGS)) options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const { config: configFile, workers: workersFlag, ...flags } = values as Record<string, string | boolean | undefined>;
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as Record<string, string | boolean>;
  const sources = configFile === undefined ? { flags: defined } : { flags: defined, configFile: String(configFile) };
  const workers = workersFlag === undefined ? 1 : Number(workersFlag);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw new ConfigError(`--workers: expected a whole number from 1 to 64, got ${String(workersFlag)}`);
  if (workers > 1 && cluster.isPrimary) {
    const config = loadConfig(sources);
    return runPrimary(workers, config, pino({ level: config.logLevel, base: { service: 'herald', role: 'primary' } }));
  }
  const server = createHerald(sources);
  const { log, config, secrets } = server;
  await server.listen();
  if (secrets.generated) log.warn({ file: secrets.file }, 'generated an API key and a token secret on first start; keep this file private');
  if (config.dev) {
    log.warn('DEV MODE: GET /dev/token hands out client tokens to any loopback caller. Never run --dev in production.');
    log.info({ apiKey: secrets.apiKey }, `dev mode: API key (also in ${secrets.file ?? 'the configuration'})`);
  }
  if (config.line.enabled && config.line.allowLoopbackWithoutKey)
    log.warn('line port accepts loopback peers without the API key (line.allowLoopbackWithoutKey)');
  log.info(
    {
      http: server.url,
      websocket: `${server.url.replace(/^http/, 'ws')}/ws`,
      line: server.linePort === undefined ? 'disabled' : `${config.line.host}:${server.linePort}`,
      secrets: secrets.file,
    },
    `Herald ${VERSION} listening: open ${server.url}/ , publish with POST ${server.url}/api/publish`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: clients are told to reconnect');
    const force = setTimeout(() => {
      log.error({ afterMs: config.shutdownTimeoutMs + 2000 }, 'shutdown did not finish: forced exit (see the last shutdown phase logged)');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function token(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { channels: { type: 'string' }, ttl: { type: 'string' }, config: { type: 'string' }, 'data-dir': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const user = positionals[0];
  if (positionals.length !== 1 || !isValidUser(user)) throw new ConfigError('usage: herald token <user> [--channels a,b] [--ttl 1h]');
  const ttlSeconds = parseDuration(values.ttl ?? '1h');
  if (ttlSeconds === undefined || ttlSeconds <= 0) throw new ConfigError(`--ttl: expected a duration such as 90s, 15m, 1h or 7d, got ${values.ttl}`);
  const flags: Record<string, string> = values['data-dir'] === undefined ? {} : { 'data-dir': values['data-dir'] };
  const config = loadConfig(values.config === undefined ? { flags } : { flags, configFile: values.config });
  const secrets = ensureSecrets(config, { create: false });
  const channels = values.channels
    ?.split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const tokens = new TokenService(secrets.tokenSecret);
  process.stdout.write(`${await tokens.sign(user, channels === undefined ? { ttlSeconds } : { ttlSeconds, channels })}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'start':
        return await start(rest);
      case 'token':
        return await token(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return;
      default:
        throw new ConfigError(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    const known =
      err instanceof ConfigError || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e.code === 'EADDRINUSE';
    process.stderr.write(`herald: ${known ? e.message : (e.stack ?? e.message)}\n`);
    process.exit(2);
  }
}

export { secretsPath };
