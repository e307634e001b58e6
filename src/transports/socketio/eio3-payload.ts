/**
 * Engine.IO protocol revision 3 polling payloads as every 1.x and 2.x client can read them.
 *
 * Engine.IO 6 (under socket.io 4) answers an EIO=3 poll with a text payload `<length>:<packet>...`, length in
 * UTF-16 code units, unless a packet carries binary data. Two kinds of old clients misread that:
 *
 * - socket.io-client 1.3.x (engine.io-client 1.5.x) in any browser with XHR2 asks for `arraybuffer` responses and,
 *   when the answer is not `application/octet-stream`, replaces the body with the string `ok` (its server,
 *   engine.io 1.5, always framed payloads in binary for such clients). `ok` is a parser error, the open packet is
 *   never read, and the still-open transport polls again without a sid: a new handshake, in a loop, each one a
 *   session on the server. Answering in binary framing, as engine.io 1.x and phpsocket.io do, fixes it.
 * - socket.io-client 1.x (engine.io-parser 1.x) reads text payloads as UTF-8 bytes (lengths in bytes, then a UTF-8
 *   decode), so any non-ASCII character (web-msg-sender's `update_online_count` is Chinese) is a parser error, and
 *   1.7.x then closes the transport and reconnects. 2.x reads them as characters. Text that is pure ASCII reads the
 *   same both ways: non-ASCII characters become JSON `\uXXXX` escapes, as PHP's json_encode writes them.
 */

/** An Engine.IO packet as Engine.IO 6 hands it to its payload encoder. */
export interface EnginePacket {
  type: string;
  data?: unknown;
}

const TYPE_CODES: Readonly<Record<string, string>> = { open: '0', close: '1', ping: '2', pong: '3', message: '4', upgrade: '5', noop: '6' };

/**
 * Each packet as its text (`<type code><data>`), or undefined when one carries binary data or an unknown type:
 * those payloads stay with Engine.IO's own encoder (Herald sends none).
 */
function packetTexts(packets: readonly EnginePacket[]): string[] | undefined {
  const texts: string[] = [];
  for (const p of packets) {
    const code = TYPE_CODES[p.type];
    if (code === undefined || (p.data !== undefined && typeof p.data !== 'string')) return undefined;
    texts.push(code + (p.data ?? ''));
  }
  return texts;
}

/**
 * Binary framing of a payload of text packets: per packet `0x00`, the UTF-8 byte length as one byte per decimal
 * digit (values 0-9), `0xFF`, then the UTF-8 bytes.
 */
export function binaryPayload(packets: readonly EnginePacket[]): Buffer | undefined {
  const texts = packetTexts(packets);
  if (texts === undefined) return undefined;
  const parts: Buffer[] = [];
  for (const text of texts) {
    const body = Buffer.from(text, 'utf8');
    const digits = String(body.length);
    const head = Buffer.allocUnsafe(digits.length + 2);
    head[0] = 0;
    for (let i = 0; i < digits.length; i++) head[i + 1] = digits.charCodeAt(i) - 48;
    head[digits.length + 1] = 0xff;
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

/**
 * Every non-ASCII UTF-16 code unit as a JSON `\uXXXX` escape. Correct because every non-ASCII character of a
 * Socket.IO packet is inside a JSON string (event names and arguments; Herald's namespace is `/`), where the
 * escape means the same character, and JSON never leaves a lone backslash before a raw character.
 */
export function asciiOnly(text: string): string {
  // eslint-disable-next-line no-control-regex -- the complement of ASCII is the point
  return text.replace(/[^\u0000-\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A text payload `<length>:<packet>...` whose packets are pure ASCII, so characters and bytes count the same. */
export function asciiPayload(packets: readonly EnginePacket[]): string | undefined {
  const texts = packetTexts(packets);
  if (texts === undefined) return undefined;
  if (texts.length === 0) return '0:';
  let out = '';
  for (const text of texts) {
    const ascii = asciiOnly(text);
    out += `${ascii.length}:${ascii}`;
  }
  return out;
}
