import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createHerald } from '../../src/server.ts';
import { API_KEY, TOKEN_SECRET } from '../helpers/herald.ts';
import { php, rawHttp, RawWsClient, requirePhp, SioClient, startCompat, TextClient } from '../helpers/compat.ts';

const SECRET = 'push-secret-0123456789';

describe('compat security: shared secret on the push ports', () => {
  it('requires the secret on 5678 (a "secret" field, removed before forwarding) and on 2121 (parameter or Bearer)', async () => {
    requirePhp();
    const h = await startCompat({ secret: SECRET });
    try {
      const page = await RawWsClient.login(h, 'uid1');
      assert.equal(await php('text-push.php', [String(h.ports.text), 'uid1']), 'unauthorized\n');
      assert.equal(await php('text-push.php', [String(h.ports.text), 'uid1'], { SECRET: 'wrong-secret-000000000' }), 'unauthorized\n');
      assert.equal(await php('text-push.php', [String(h.ports.text), 'uid1', '5%'], { SECRET }), 'ok\n');
      assert.equal(await page.messages.next(), '{"uid":"uid1","percent":"5%"}', 'the secret is not forwarded to browsers');
      assert.deepEqual(page.messages.items, ['{"uid":"uid1","percent":"5%"}']);

      const url = `http://127.0.0.1:${h.ports.httpPush}/`;
      assert.equal(await php('http-push-curl.php', [url, 'uid1', 'no secret']), "'unauthorized'");
      assert.equal(await php('http-push-curl.php', [url, 'uid1', 'with secret'], { SECRET }), "'ok'");
      assert.equal(await page.messages.next((m) => m === 'with secret'), 'with secret');
      const bearer = await fetch(`${url}?type=publish&to=uid1&content=bearer`, { headers: { authorization: `Bearer ${SECRET}` } });
      assert.equal(bearer.status, 200);
      assert.equal(await bearer.text(), 'ok');
      const refused = await fetch(`${url}?type=publish&to=uid1&content=x&secret=nope`);
      assert.equal(refused.status, 401);
      assert.equal(await refused.text(), 'unauthorized');
      await page.messages.next((m) => m === 'bearer');
      assert.deepEqual(page.messages.items, ['{"uid":"uid1","percent":"5%"}', 'with secret', 'bearer']);
      await page.close();
    } finally {
      await h.close();
    }
  });
});

describe('compat security: requireToken', () => {
  it('refuses raw uids and accepts signed tokens, on Socket.IO and on the websocket', async () => {
    const h = await startCompat({ requireToken: true });
    try {
      const raw = SioClient.create(4, h.ports.socketio, 'alice');
      assert.equal((await raw.loginErrors.next()).code, 'token_required');
      const token = await h.token('alice');
      const v2 = await SioClient.login(h, 2, token);
      const v4 = await SioClient.login(h, 4, { token });
      const expired = SioClient.create(2, h.ports.socketio, await h.token('alice', undefined, -10));
      assert.equal((await expired.loginErrors.next()).code, 'token_expired');

      const wsRaw = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}`);
      wsRaw.ws.send('alice');
      assert.equal(await wsRaw.closed, 1008);
      assert.equal(wsRaw.closeReason, 'token required');
      const wsForged = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}`);
      wsForged.ws.send(`${token.slice(0, -4)}AAAA`);
      assert.equal(await wsForged.closed, 4500);
      const ws = await RawWsClient.login(h, 'alice', '/', token);
      assert.equal(h.server.context.hub.connectionsOf('alice').size, 3);

      const res = await fetch(`http://127.0.0.1:${h.ports.httpPush}/?type=publish&to=alice&content=signed`);
      assert.equal(await res.text(), 'ok');
      assert.equal(await v2.newMsg.next(), 'signed');
      assert.equal(await v4.newMsg.next(), 'signed');
      assert.equal(await ws.messages.next(), 'signed');
      // Without a login nothing is delivered when tokens are required, not even broadcasts.
      assert.equal(await (await fetch(`http://127.0.0.1:${h.ports.httpPush}/?type=publish&content=all`)).text(), 'ok');
      await v4.newMsg.next((m) => m === 'all');
      assert.deepEqual(raw.newMsg.items, []);
      for (const c of [raw, v2, v4, expired]) c.close();
      await ws.close();
    } finally {
      await h.close();
    }
  });
});

describe('compat security: CORS origin allowlist', () => {
  it('echoes an allowed origin and refuses others without any allow-origin header, on 2120, 1234 and 2121', async () => {
    const h = await startCompat({ corsOrigins: ['https://shop.example', 'https://*.shop.example'] });
    try {
      const handshake = (origin: string) => fetch(`http://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
      for (const good of ['https://shop.example', 'https://m.shop.example']) {
        const ok = await handshake(good);
        assert.equal(ok.status, 200);
        assert.equal(ok.headers.get('access-control-allow-origin'), good);
        assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
        await ok.text();
      }
      const bad = await handshake('https://evil.example');
      assert.equal(bad.status, 403);
      assert.equal(bad.headers.get('access-control-allow-origin'), null);
      await bad.text();
      // Old clients (no Origin header: backends, native apps) are not browsers and pass.
      const v2 = await SioClient.login(h, 2, 'cors-user');

      for (const port of [h.ports.socketio, h.ports.websocket]) {
        const path = port === h.ports.socketio ? '/socket.io/?EIO=4&transport=websocket' : '/';
        const evil = new WebSocket(`ws://127.0.0.1:${port}${path}`, { origin: 'https://evil.example' });
        const [, res] = (await once(evil, 'unexpected-response')) as [unknown, { statusCode: number; headers: Record<string, unknown> }];
        // Engine.IO answers every refused upgrade with 400; the websocket port says 403.
        assert.equal(res.statusCode, port === h.ports.socketio ? 400 : 403, `websocket upgrade from a refused origin on ${port}`);
        assert.equal(res.headers['access-control-allow-origin'], undefined);
        evil.on('error', () => {});
        evil.terminate();
      }
      // The same upgrade from an allowed origin opens.
      const sioGood = new WebSocket(`ws://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=4&transport=websocket`, { origin: 'https://shop.example' });
      await once(sioGood, 'open');
      sioGood.close();
      const good = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}/`, { origin: 'https://shop.example' });
      good.ws.send('cors-user');
      await h.hubChanged(() => h.server.context.hub.connectionsOf('cors-user').size === 2);

      const push = (origin: string) =>
        fetch(`http://127.0.0.1:${h.ports.httpPush}/?type=publish&to=cors-user&content=${encodeURIComponent(origin)}`, { headers: { origin } });
      const allowed = await push('https://shop.example');
      assert.equal(await allowed.text(), 'ok');
      assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://shop.example');
      const refused = await push('https://evil.example');
      assert.equal(refused.status, 403);
      assert.equal(await refused.text(), 'fail');
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      assert.equal(await good.messages.next(), 'https://shop.example');
      assert.equal(await v2.newMsg.next(), 'https://shop.example');
      v2.close();
      await good.close();
    } finally {
      await h.close();
    }
  });

  it('by default ("*") reflects any origin on Socket.IO, as the original does', async () => {
    const h = await startCompat();
    try {
      const res = await fetch(`http://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=3&transport=polling`, { headers: { origin: 'http://any.example' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://any.example');
      await res.text();
    } finally {
      await h.close();
    }
  });
});

describe('compat security: TLS from config', () => {
  it('serves wss on 1234, https/wss Socket.IO on 2120, and with pushPorts https on 2121 and TLS on 5678', async () => {
    requirePhp();
    let openssl: string;
    try {
      openssl = execFileSync('which', ['openssl'], { encoding: 'utf8' }).trim();
    } catch {
      throw new Error('openssl is required to generate the test certificate: apt-get install openssl');
    }
    const dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      openssl,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    const ca = readFileSync(cert);
    const h = await startCompat({ tls: { cert, key, pushPorts: true } });
    try {
      const wss = await RawWsClient.open(`wss://127.0.0.1:${h.ports.websocket}/`, { ca });
      wss.ws.send('secure');
      const sioWs = SioClient.create(4, h.ports.socketio, 'secure', { transports: ['websocket'], ca }, 'https');
      const sioPoll = SioClient.create(4, h.ports.socketio, 'secure', { ca }, 'https');
      await sioWs.counts.next();
      await sioPoll.counts.next();
      await h.hubChanged(() => h.server.context.hub.connectionsOf('secure').size === 3);

      const httpsPush = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: h.ports.httpPush, path: '/?type=publish&to=secure&content=over-https', ca }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(httpsPush, 'ok');
      assert.equal(await php('http-push-curl.php', [`https://127.0.0.1:${h.ports.httpPush}/`, 'secure', 'php-https'], { CAFILE: cert }), "'ok'");
      const tlsText = tlsConnect({ host: '127.0.0.1', port: h.ports.text, ca });
      await once(tlsText, 'secureConnect');
      const t = new TextClient(tlsText);
      t.write('{"uid":"secure","via":"tls"}\n');
      assert.equal(await t.lines(1), 'ok\n');
      t.close();

      for (const expected of ['over-https', 'php-https', '{"uid":"secure","via":"tls"}']) {
        assert.equal(await wss.messages.next((m) => m === expected), expected);
        assert.equal(await sioWs.newMsg.next((m) => m === expected), expected);
        assert.equal(await sioPoll.newMsg.next((m) => m === expected), expected);
      }
      // Plain HTTP on a TLS port is not served.
      const plain = await rawHttp(h.ports.httpPush, 'GET /?type=publish&to=secure HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.doesNotMatch(await plain.response, /^HTTP\/1\.1 200/);
      sioWs.close();
      sioPoll.close();
      await wss.close();
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compat: startup warnings for the insecure defaults the profile keeps', () => {
  it('warns about trusted uids, open CORS and push ports without a secret, and stops warning once configured', async () => {
    const run = async (compat: Record<string, unknown>): Promise<string[]> => {
      const lines: { level: number; msg: string }[] = [];
      const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-warn-'));
      const server = createHerald({
        env: {},
        cwd: dataDir,
        logger,
        overrides: {
          profile: 'workerman',
          host: '127.0.0.1',
          port: 0,
          dataDir,
          apiKey: API_KEY,
          tokenSecret: TOKEN_SECRET,
          line: { port: 0 },
          compat: { websocket: { port: 0 }, text: { port: 0 }, socketio: { port: 0 }, httpPush: { port: 0 }, ...compat },
        },
      });
      try {
        await server.listen();
      } finally {
        await server.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
      return lines.filter((l) => l.level === 40).map((l) => l.msg);
    };
    const warnings = await run({});
    for (const re of [
      /compat\.websocket \(0\.0\.0\.0:0\) trusts any uid/,
      /compat\.socketio \(0\.0\.0\.0:0\) trusts any uid/,
      /compat\.websocket .* plain ws:\/\/ without TLS/,
      /compat\.corsOrigins is "\*"/,
      /compat\.text \(127\.0\.0\.1:0\) accepts pushes from any process on this machine without a secret/,
      /compat\.httpPush \(127\.0\.0\.1:0\) accepts pushes .* without a secret/,
    ]) {
      assert.ok(
        warnings.some((w) => re.test(w)),
        `expected a warning matching ${re}; got ${JSON.stringify(warnings)}`,
      );
    }
    const secure = await run({
      requireToken: true,
      secret: SECRET,
      corsOrigins: ['https://shop.example'],
      websocket: { port: 0, host: '127.0.0.1' },
      socketio: { port: 0, host: '127.0.0.1' },
    });
    assert.deepEqual(
      secure.filter((w) => w.startsWith('compat')),
      [],
    );
  });
});
