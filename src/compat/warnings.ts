import type { CompatConfig } from '../config/compat.ts';

export interface InsecureDefault {
  option: string;
  message: string;
}

const isLoopbackHost = (h: string): boolean => h === 'localhost' || h === '::1' || h.startsWith('127.');

/**
 * The insecure settings the enabled compat listeners run with (most are the originals' behaviour, kept so that a
 * drop-in changes nothing), one warning each, naming the option that fixes it. Logged at startup.
 */
export function insecureDefaults(config: { compat: CompatConfig }): InsecureDefault[] {
  const c = config.compat;
  const out: InsecureDefault[] = [];
  const clients = (['websocket', 'socketio'] as const).filter((n) => c[n].enabled);
  const pushes = (['text', 'httpPush'] as const).filter((n) => c[n].enabled);
  for (const n of clients) {
    const l = c[n];
    if (!c.requireToken) {
      out.push({
        option: 'compat.requireToken',
        message: `compat.${n} (${l.host}:${l.port}) trusts any uid a client claims at login, so anyone can receive anyone's messages; set compat.requireToken and log in with signed tokens`,
      });
    }
    if (c.tls.cert === undefined && !isLoopbackHost(l.host)) {
      out.push({
        option: 'compat.tls',
        message: `compat.${n} (${l.host}:${l.port}) serves plain ${n === 'websocket' ? 'ws://' : 'http://'} without TLS; set compat.tls.cert and compat.tls.key, or terminate TLS in a proxy`,
      });
    }
  }
  if (clients.length > 0 && c.corsOrigins.includes('*')) {
    out.push({
      option: 'compat.corsOrigins',
      message: 'compat.corsOrigins is "*": pages of any site may connect to the compat client ports; list your origins',
    });
  }
  for (const n of pushes) {
    const l = c[n];
    if (c.secret !== undefined) continue;
    const who = isLoopbackHost(l.host) ? 'any process on this machine' : 'anyone who can reach it over the network';
    out.push({ option: 'compat.secret', message: `compat.${n} (${l.host}:${l.port}) accepts pushes from ${who} without a secret; set compat.secret` });
  }
  if (c.httpPush.enabled && !c.escapeHtml) {
    out.push({
      option: 'compat.escapeHtml',
      message: 'compat.escapeHtml is off: httpPush content reaches pages unescaped (pages that insert it as HTML are open to script injection)',
    });
  }
  return out;
}
