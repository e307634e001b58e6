import type { Envelope } from '../../domain/streams.ts';
import { frameText } from '../../protocol/wsframe.ts';

/**
 * How published data (serialized JSON, as the dispatcher carries it) appears on the compat wires, which carry
 * text, not JSON values: a JSON string shows as its value, any other JSON value as its JSON text. So a 2121 push
 * (`content`, published as a JSON string) arrives as the content itself, a 5678 push (the JSON line, published as
 * the object it holds) arrives as the line verbatim, and a native publish of `{"a":1}` arrives as `{"a":1}`.
 */
export function dataAsText(dataJson: string): string {
  if (dataJson.charCodeAt(0) === 0x22) {
    try {
      const v: unknown = JSON.parse(dataJson);
      if (typeof v === 'string') return v;
    } catch {
      // not a JSON string after all: fall through to the text itself
    }
  }
  return dataJson;
}

/**
 * The WebSocket frame of one published message for the plain-text websockets (1234, 9501), shared so that a
 * message that reaches clients of both is framed once (Delivery memoizes per encoder function).
 */
export const textMessageFrame = (env: Envelope): Buffer => frameText(dataAsText(env.data));
