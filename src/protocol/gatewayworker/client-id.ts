// client_id (reference §4): 20 lowercase hex characters of `N local_ip ‖ n local_port ‖ N connection_id`, and the
// IPv4 helpers that go with it (PHP's ip2long/long2ip). The gateway address a client_id routes to is
// dotted-quad(ip) ":" port, and must equal the address announced by the Register byte for byte.

export interface ClientIdParts {
  /** uint32, ip2long of the gateway's lanIp. */
  ip: number;
  /** The gateway's inner port. */
  port: number;
  /** uint32, the connection id inside that gateway. */
  connectionId: number;
}

const HEX20 = /^[0-9a-fA-F]{20}$/;
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const DOTTED = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const PORT = /^(0|[1-9][0-9]{0,4})$/;

function uint(name: string, v: number, bits: 16 | 32): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${name} ${v} is not a uint${bits}`);
}

/** bin2hex(pack('NnN', ip, port, connectionId)). Throws RangeError for a field out of range. */
export function encodeClientId(p: ClientIdParts): string {
  uint('ip', p.ip, 32);
  uint('port', p.port, 16);
  uint('connectionId', p.connectionId, 32);
  const b = Buffer.allocUnsafe(10);
  b.writeUInt32BE(p.ip, 0);
  b.writeUInt16BE(p.port, 4);
  b.writeUInt32BE(p.connectionId, 6);
  return b.toString('hex');
}

/**
 * The parts of a client_id, or undefined when it is not exactly 20 hex characters (GatewayClient throws there,
 * the worker-side library returns false). Upper-case hex is read as PHP's hex2bin reads it.
 */
export function decodeClientId(id: string): ClientIdParts | undefined {
  if (!HEX20.test(id)) return undefined;
  const b = Buffer.from(id, 'hex');
  return { ip: b.readUInt32BE(0), port: b.readUInt16BE(4), connectionId: b.readUInt32BE(6) };
}

/** PHP's ip2long for IPv4 (inet_pton rules: four decimal octets, no leading zeros, no spaces), else undefined. */
export function ipToLong(ip: string): number | undefined {
  const m = DOTTED.exec(ip);
  if (!m) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** PHP's long2ip for a uint32. */
export function longToIp(n: number): string {
  uint('ip', n, 32);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The gateway address a client_id's parts route to: "dotted-quad:port". */
export function gatewayAddress(p: { ip: number; port: number }): string {
  return `${longToIp(p.ip)}:${p.port}`;
}

/** "a.b.c.d:port" as the Register announces inner addresses, or undefined. */
export function parseGatewayAddress(address: string): { ip: number; port: number } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon === -1) return undefined;
  const ip = ipToLong(address.slice(0, colon));
  const portText = address.slice(colon + 1);
  if (ip === undefined || !PORT.test(portText) || Number(portText) > 65535) return undefined;
  return { ip, port: Number(portText) };
}
