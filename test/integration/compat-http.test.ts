import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { php, requirePhp, SioClient, startCompat, type CompatHerald } from '../helpers/compat.ts';

/** One raw HTTP exchange with any method (fetch refuses some), returning status, headers and body. */
function http(port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('compat: web-msg-sender HTTP push API (2121)', () => {
  let h: CompatHerald;
  let alice: SioClient;
  let bob: SioClient;
  before(async () => {
    requirePhp();
    h = await startCompat();
    alice = await SioClient.login(h, 2, 'alice');
    bob = await SioClient.login(h, 4, 'bob');
  });
  after(async () => {
    alice.close();
    bob.close();
    await h.close();
  });
  const url = () => `http://127.0.0.1:${h.ports.httpPush}/`;

  it('runs the README backend (PHP curl, multipart POST, "Expect:" header): ok, offline, and broadcast', async () => {
    assert.equal(await php('http-push-curl.php', [url(), 'alice', '数据 <b>']), "'ok'");
    assert.equal(await alice.newMsg.next((m) => m.startsWith('数据')), '数据 &lt;b&gt;');
    assert.equal(await php('http-push-curl.php', [url(), 'carol', 'for carol']), "'offline'");
    assert.equal(await php('http-push-curl.php', [url(), '', 'everyone']), "'ok'");
    assert.equal(await alice.newMsg.next((m) => m === 'everyone'), 'everyone');
    assert.equal(await bob.newMsg.next((m) => m === 'everyone'), 'everyone');
  });

  it("runs the same backend with an urlencoded body, and the demo page's GET link from PHP", async () => {
    assert.equal(await php('http-push-curl.php', [url(), 'bob', 'url & encoded'], { MODE: 'urlencoded' }), "'ok'");
    assert.equal(await bob.newMsg.next((m) => m.startsWith('url')), 'url &amp; encoded');
    assert.equal(await php('http-push-get.php', [url(), 'bob', '消息内容']), 'ok');
    assert.equal(await bob.newMsg.next((m) => m === '消息内容'), '消息内容');
  });

  it('answers exactly like the original: status 200, text/html;charset=utf-8, body ok / offline / fail', async () => {
    const cases: [string, string][] = [
      ['?type=publish&to=alice&content=x', 'ok'],
      ['?type=publish&to=nobody&content=x', 'offline'],
      ['?type=publish&content=x', 'ok'],
      ['?type=nope&to=alice', 'fail'],
      ['', 'fail'],
    ];
    for (const [query, body] of cases) {
      const r = await http(h.ports.httpPush, 'GET', `/${query}`);
      assert.equal(r.status, 200, query);
      assert.equal(r.body, body, query);
      assert.equal(r.headers['content-type'], 'text/html;charset=utf-8');
      assert.equal(r.headers['content-length'], String(body.length));
      assert.equal(r.headers['access-control-allow-origin'], undefined, 'no CORS headers, as the original');
    }
  });

  it('takes any method and any path', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await http(h.ports.httpPush, method, `/any/where/${method}?type=publish&to=alice&content=${method}`);
      assert.equal(r.body, 'ok', method);
      assert.equal(await alice.newMsg.next((m) => m === method), method);
    }
    const head = await http(h.ports.httpPush, 'HEAD', '/?type=publish&to=alice&content=HEAD');
    assert.equal(head.status, 200);
    assert.equal(await alice.newMsg.next((m) => m === 'HEAD'), 'HEAD');
  });

  it('uses body parameters when there are any, else the query: POST ?to=alice with a body without to broadcasts', async () => {
    const r = await http(h.ports.httpPush, 'POST', '/?to=alice', 'type=publish&content=to-all', form);
    assert.equal(r.body, 'ok');
    assert.equal(await alice.newMsg.next((m) => m === 'to-all'), 'to-all');
    assert.equal(await bob.newMsg.next((m) => m === 'to-all'), 'to-all');
    const q = await http(h.ports.httpPush, 'POST', '/?type=publish&to=bob&content=from-query', '', form);
    assert.equal(q.body, 'ok');
    assert.equal(await bob.newMsg.next((m) => m === 'from-query'), 'from-query');
    const json = await http(h.ports.httpPush, 'POST', '/?to=nobody', JSON.stringify({ type: 'publish', to: 'bob', content: 'json <3' }), {
      'content-type': 'application/json',
    });
    assert.equal(json.body, 'ok');
    assert.equal(await bob.newMsg.next((m) => m.startsWith('json')), 'json &lt;3');
    const plain = await http(h.ports.httpPush, 'POST', '/', 'type=publish&to=bob&content=no-content-type');
    assert.equal(plain.body, 'ok');
    assert.equal(await bob.newMsg.next((m) => m === 'no-content-type'), 'no-content-type');
  });

  it('treats to=0 as a broadcast (PHP-falsy) and a missing content as ""', async () => {
    const r = await http(h.ports.httpPush, 'GET', '/?type=publish&to=0&content=zero');
    assert.equal(r.body, 'ok');
    assert.equal(await bob.newMsg.next((m) => m === 'zero'), 'zero');
    assert.equal((await http(h.ports.httpPush, 'GET', '/?type=publish&to=alice')).body, 'ok');
    assert.equal(await alice.newMsg.next((m) => m === ''), '');
  });

  it('escapes content exactly as PHP 8 htmlspecialchars', async () => {
    const content = `<script>alert("x")</script> & 'q' &amp; é 😀`;
    const r = await http(h.ports.httpPush, 'POST', '/', new URLSearchParams({ type: 'publish', to: 'alice', content }).toString(), form);
    assert.equal(r.body, 'ok');
    const expected = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#039;q&#039; &amp;amp; é 😀';
    assert.equal(await alice.newMsg.next((m) => m.startsWith('&lt;script')), expected);
  });

  it('refuses to[]=a, content[]=x and type[]= (which crash the original) with 400 fail; everyone stays connected', async () => {
    for (const body of ['type=publish&to[]=alice&content=x', 'type=publish&to=alice&content[]=x', 'type[]=publish&to=alice', 'type=publish&to[a]=1']) {
      const r = await http(h.ports.httpPush, 'POST', '/', body, form);
      assert.equal(r.status, 400, body);
      assert.equal(r.body, 'fail', body);
    }
    const multipart = await php('http-push-curl.php', [url(), 'alice', 'after crash attempts']);
    assert.equal(multipart, "'ok'");
    assert.equal(await alice.newMsg.next((m) => m === 'after crash attempts'), 'after crash attempts');
    assert.deepEqual(alice.disconnects.items, []);
    assert.deepEqual(bob.disconnects.items, []);
  });

  it('publishes through the dispatcher: a native client gets the escaped content with event new_msg', async () => {
    const { TestClient } = await import('../helpers/ws-client.ts');
    const native = await TestClient.welcome(h.wsUrl, await h.token('nat'));
    assert.equal((await http(h.ports.httpPush, 'GET', '/?type=publish&to=nat&content=%3Cb%3E')).body, 'ok');
    const m = await native.next((f) => f.type === 'message' && f.stream === 'user:nat');
    assert.equal(m.stream, 'user:nat');
    assert.equal(m.event, 'new_msg');
    assert.equal(m.data, '&lt;b&gt;');
    native.close();
  });

  it('refuses a body over limits.maxBodyBytes with 413 fail', async () => {
    const r = await http(h.ports.httpPush, 'POST', '/', `type=publish&content=${'x'.repeat(2 * 1024 * 1024)}`, form);
    assert.equal(r.status, 413);
    assert.equal(r.body, 'fail');
  });
});

describe('compat: HTTP push with escapeHtml off', () => {
  it('passes content through unescaped', async () => {
    const h = await startCompat({ escapeHtml: false });
    try {
      const c = await SioClient.login(h, 4, 'raw');
      const r = await http(h.ports.httpPush, 'GET', `/?${new URLSearchParams({ type: 'publish', to: 'raw', content: '<b>"raw"</b>' })}`);
      assert.equal(r.body, 'ok');
      assert.equal(await c.newMsg.next(), '<b>"raw"</b>');
      c.close();
    } finally {
      await h.close();
    }
  });
});
