import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApiKeyCheck } from '../../src/auth/api-key.ts';
import { TokenService } from '../../src/auth/tokens.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { htmlspecialchars } from '../../src/compat/html-escape.ts';
import { resolveLogin } from '../../src/transports/common/login.ts';
import { OriginPolicy } from '../../src/transports/common/origins.ts';
import { NOT_SCALAR, parseBody, requestParams } from '../../src/compat/push-params.ts';
import { parseTextPush } from '../../src/compat/text-port.ts';
import { dataAsText } from '../../src/transports/common/wire.ts';
import { onlineCountText } from '../../src/transports/socketio/online-count.ts';
import { requirePhp } from '../helpers/compat.ts';

const cwd = mkdtempSync(join(tmpdir(), 'herald-compat-config-'));

describe('compat config', () => {
  it("keeps every listener off by default, with the seeds' ports and safe push-port hosts", () => {
    const c = loadConfig({ env: {}, cwd }).compat;
    assert.deepEqual(
      { websocket: c.websocket, text: c.text, socketio: c.socketio, httpPush: c.httpPush },
      {
        websocket: { enabled: false, host: '0.0.0.0', port: 1234 },
        text: { enabled: false, host: '127.0.0.1', port: 5678 },
        socketio: {
          enabled: false,
          host: '0.0.0.0',
          port: 2120,
          path: '/socket.io',
          maxHandshakesPerAddress: 100,
          handshakeWindowMs: 10_000,
          maxAnonymousPerAddress: 100,
        },
        httpPush: { enabled: false, host: '127.0.0.1', port: 2121 },
      },
    );
    assert.equal(c.secret, undefined);
    assert.equal(c.requireToken, false);
    assert.deepEqual(c.corsOrigins, ['*']);
    assert.equal(c.escapeHtml, true);
    assert.equal(c.maxLineBytes, 1024 * 1024);
  });

  it('profile workerman (flag or HERALD_PROFILE) opens the four listeners and moves the native line port to 5679', () => {
    for (const src of [{ flags: { profile: 'workerman' } }, { env: { HERALD_PROFILE: 'workerman' } }]) {
      const c = loadConfig({ env: {}, cwd, ...src });
      assert.equal(c.profile, 'workerman');
      assert.equal(c.line.port, 5679);
      assert.equal(c.port, 8080);
      for (const [name, port] of [
        ['websocket', 1234],
        ['text', 5678],
        ['socketio', 2120],
        ['httpPush', 2121],
      ] as const) {
        assert.equal(c.compat[name].enabled, true, name);
        assert.equal(c.compat[name].port, port, name);
      }
    }
  });

  it('lets each listener be configured on its own under the profile', () => {
    const c = loadConfig({
      env: {},
      cwd,
      overrides: { profile: 'workerman', compat: { socketio: { enabled: false }, text: { port: 15678, host: '10.0.0.5' } } },
    });
    assert.equal(c.compat.socketio.enabled, false);
    assert.equal(c.compat.websocket.enabled, true);
    assert.deepEqual(c.compat.text, { enabled: true, port: 15678, host: '10.0.0.5' });
  });

  it('names port clashes and TLS mistakes', () => {
    const cases: [Parameters<typeof loadConfig>[0], RegExp][] = [
      [
        { env: {}, cwd, overrides: { profile: 'workerman', line: { port: 5678 } } },
        /port 5678 is configured for both the line port \(line.port\) and compat.text/,
      ],
      [
        { env: {}, cwd, overrides: { compat: { socketio: { enabled: true, port: 8080 } } } },
        /port 8080 is configured for both HTTP \(port\) and compat.socketio/,
      ],
      [
        { env: {}, cwd, overrides: { compat: { websocket: { enabled: true, port: 2121 }, httpPush: { enabled: true } } } },
        /port 2121 .* compat.websocket and compat.httpPush/,
      ],
      [{ env: {}, cwd, overrides: { compat: { tls: { cert: '/c.pem' } } } }, /compat.tls needs both cert and key/],
      [{ env: {}, cwd, overrides: { compat: { tls: { pushPorts: true } } } }, /compat.tls.pushPorts is set but/],
      [{ env: {}, cwd, overrides: { compat: { secret: 'short' } } }, /compat.secret must be at least 16/],
      [{ env: {}, cwd, overrides: { compat: { websockets: {} } as never } }, /compat/],
    ];
    for (const [src, re] of cases) {
      assert.throws(
        () => loadConfig(src),
        (err: Error) => err instanceof ConfigError && re.test(err.message),
        String(re),
      );
    }
  });

  it('allows the same port on different interfaces, and disabled listeners anywhere', () => {
    loadConfig({ env: {}, cwd, overrides: { compat: { websocket: { enabled: true, host: '127.0.0.2', port: 5678 } } } });
    loadConfig({ env: {}, cwd, overrides: { compat: { text: { enabled: false, port: 8080 } } } });
  });
});

describe('htmlspecialchars', () => {
  it('matches PHP 8 htmlspecialchars() with default flags, byte for byte', () => {
    requirePhp();
    const samples = [`<b>hi "a" & 'x'</b>`, '&amp; &lt; already', 'plain', '', '中文 <i>é</i> 😀', 'a\'b"c<d>e&f', '\u0000\u001f\t\n'];
    const phpOut = execFileSync('php', ['-r', 'foreach (json_decode(stream_get_contents(STDIN)) as $s) echo json_encode(htmlspecialchars($s)), "\\n";'], {
      input: JSON.stringify(samples),
      encoding: 'utf8',
    });
    const expected = phpOut
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string);
    assert.deepEqual(samples.map(htmlspecialchars), expected);
    assert.equal(htmlspecialchars(`<b>hi "a" & 'x'</b>`), '&lt;b&gt;hi &quot;a&quot; &amp; &#039;x&#039;&lt;/b&gt;');
  });
});

describe('push parameters (PHP parse_str / Workerman post())', () => {
  const enc = (s: string) => Buffer.from(s);
  it('marks array parameters instead of crashing, and lets the last assignment win', () => {
    const p = parseBody('application/x-www-form-urlencoded', enc('type=publish&to[]=a&content[x]=1&a=1&a=2&to2=x&to2[]=y&to3[]=y&to3=z'));
    assert.equal(p.get('type'), 'publish');
    assert.equal(p.get('to'), NOT_SCALAR);
    assert.equal(p.get('content'), NOT_SCALAR);
    assert.equal(p.get('a'), '2');
    assert.equal(p.get('to2'), NOT_SCALAR);
    assert.equal(p.get('to3'), 'z');
  });

  it('decodes + and %XX, leaves bad escapes alone, and mangles names as PHP does', () => {
    const p = parseBody(undefined, enc('content=a+b%20c%zz&my.name=1&to[=x'));
    assert.equal(p.get('content'), 'a b c%zz');
    assert.equal(p.get('my_name'), '1');
    assert.equal(p.get('to_'), 'x');
  });

  it('uses body parameters only when there are any', () => {
    assert.equal(requestParams('to=alice&type=publish', 'application/x-www-form-urlencoded', enc('type=publish&content=x')).get('to'), undefined);
    assert.equal(requestParams('to=alice&type=publish', 'application/x-www-form-urlencoded', enc('')).get('to'), 'alice');
    assert.equal(requestParams('to=alice', 'application/json', enc('{}')).get('to'), 'alice');
    assert.equal(requestParams('to=alice', 'application/json', enc('not json')).get('to'), 'alice');
    assert.equal(requestParams('to=alice', 'application/json', enc('"x"')).get('to'), undefined, '(array) of a scalar is non-empty');
  });

  it('reads JSON bodies with PHP string conversions', () => {
    const p = parseBody('application/json; charset=utf-8', enc('{"type":"publish","to":42,"content":true,"x":null,"y":[1],"z":{"a":1}}'));
    assert.equal(p.get('to'), '42');
    assert.equal(p.get('content'), '1');
    assert.equal(p.has('x'), false);
    assert.equal(p.get('y'), NOT_SCALAR);
    assert.equal(p.get('z'), NOT_SCALAR);
  });

  it('reads multipart/form-data text fields, ignores files, and marks array names', () => {
    const b = 'XyZ';
    const body = [
      `--${b}`,
      'Content-Disposition: form-data; name="type"',
      '',
      'publish',
      `--${b}`,
      'Content-Disposition: form-data; name="content"',
      '',
      'line1\r\nline2',
      `--${b}`,
      'Content-Disposition: form-data; name="file"; filename="a.txt"',
      'Content-Type: text/plain',
      '',
      'file body',
      `--${b}`,
      'Content-Disposition: form-data; name="to[]"',
      '',
      'a',
      `--${b}--`,
      '',
    ].join('\r\n');
    const p = parseBody(`multipart/form-data; boundary="${b}"`, enc(body));
    assert.equal(p.get('type'), 'publish');
    assert.equal(p.get('content'), 'line1\r\nline2');
    assert.equal(p.has('file'), false);
    assert.equal(p.get('to'), NOT_SCALAR);
  });
});

describe('Text push lines', () => {
  it('takes the uid, a broadcast form, and refuses the rest', () => {
    assert.deepEqual(parseTextPush('{"uid":"u1","p":1}', undefined), { ok: true, to: { user: 'u1' }, user: 'u1', data: '{"uid":"u1","p":1}' });
    assert.deepEqual(parseTextPush('{"uid":7}', undefined), { ok: true, to: { user: '7' }, user: '7', data: '{"uid":7}' });
    assert.deepEqual(parseTextPush('{"broadcast":true,"n":1}', undefined), { ok: true, to: { all: true }, data: '{"broadcast":true,"n":1}' });
    for (const bad of ['', 'x', '[]', '{"broadcast":1}', '{"uid":true}', '{"uid":""}', '{"uid":1e300}']) {
      const r = parseTextPush(bad, undefined);
      assert.equal(r.ok, false, bad);
    }
  });

  it('checks the secret and removes it from what is forwarded', () => {
    const s = new ApiKeyCheck('0123456789abcdef');
    assert.deepEqual(parseTextPush('{"uid":"u","secret":"0123456789abcdef","x":"\\/"}', s), {
      ok: true,
      to: { user: 'u' },
      user: 'u',
      data: '{"uid":"u","x":"/"}',
    });
    const r = parseTextPush('{"uid":"u","secret":"nope"}', s);
    assert.equal(r.ok === false && r.reply, 'unauthorized');
  });
});

describe('compat wire helpers', () => {
  it('shows JSON strings as their value and other JSON as text', () => {
    assert.equal(dataAsText('"a\\"b"'), 'a"b');
    assert.equal(dataAsText('{"a":1}'), '{"a":1}');
    assert.equal(dataAsText('12'), '12');
    assert.equal(dataAsText('null'), 'null');
  });

  it('writes the original online-count HTML', () => {
    assert.equal(onlineCountText(3, 5), '当前<b>3</b>人在线，共打开<b>5</b>个页面');
  });

  it('matches origins exactly, by pattern, or any', () => {
    const p = new OriginPolicy(['https://shop.example', 'https://*.shop.example']);
    assert.ok(p.allows('https://shop.example'));
    assert.ok(p.allows('https://M.shop.example'));
    assert.ok(!p.allows('https://shop.example.evil'));
    assert.ok(!p.allows('http://shop.example'));
    assert.ok(p.admits(undefined));
    assert.ok(new OriginPolicy(['*']).allows('https://anything'));
  });

  it('resolves logins: uid, integer, token string, {token}; everything else is a clear refusal', async () => {
    const tokens = new TokenService('x'.repeat(32));
    const t = await tokens.sign('bob', { ttlSeconds: 60 });
    assert.deepEqual(await resolveLogin(tokens, 'alice', false), { ok: true, user: 'alice', viaToken: false });
    assert.deepEqual(await resolveLogin(tokens, 12, false), { ok: true, user: '12', viaToken: false });
    assert.deepEqual(await resolveLogin(tokens, t, true), { ok: true, user: 'bob', viaToken: true });
    assert.deepEqual(await resolveLogin(tokens, { token: t }, true), { ok: true, user: 'bob', viaToken: true });
    const codes = await Promise.all(
      [undefined, null, {}, [], Buffer.from('x'), new Uint8Array(2), 1.5, true, '', 'a\u0001'].map(async (a) => {
        const r = await resolveLogin(tokens, a, false);
        return r.ok ? 'ok' : r.code;
      }),
    );
    assert.deepEqual(codes, [
      'bad_login',
      'bad_login',
      'bad_login',
      'bad_login',
      'bad_login',
      'bad_login',
      'bad_login',
      'bad_login',
      'invalid_uid',
      'invalid_uid',
    ]);
    const req = await resolveLogin(tokens, 'alice', true);
    assert.equal(req.ok === false && req.code, 'token_required');
  });
});
