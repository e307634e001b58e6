// What a BusinessWorker and a GatewayClient both do first (reference §2): ask the Register for the gateways'
// inner addresses with a worker_connect line and read its broadcast_addresses answer.
import { connect, type Socket } from 'node:net';
import { LineReader, parseRegisterLine, workerConnectLine } from '../../src/protocol/gatewayworker/index.ts';

/** The inner addresses the Register announces, and the Register connection (a worker keeps it; a client closes it). */
export function findGateways(registerPort: number, secret: string): Promise<{ addresses: string[]; register: Socket }> {
  return new Promise((resolve, reject) => {
    const register = connect(registerPort, '127.0.0.1');
    const lines = new LineReader();
    const timer = setTimeout(() => reject(new Error('the Register did not announce a gateway within 10 s')), 10_000);
    register.on('error', reject);
    register.on('connect', () => register.write(workerConnectLine(secret)));
    register.on('data', (chunk: Buffer) => {
      for (const line of lines.push(chunk).lines) {
        const m = parseRegisterLine(line);
        if (m.ok && m.message.event === 'broadcast_addresses' && m.message.addresses.length > 0) {
          clearTimeout(timer);
          resolve({ addresses: m.message.addresses, register });
        }
      }
    });
  });
}

/** Connects to host:port with Nagle off (both stand-ins write small frames and wait for answers). */
export function connectTo(address: string): Promise<Socket> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)), noDelay: true });
    s.once('error', reject);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}
