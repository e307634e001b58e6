// wsload: a small epoll load client for Herald's benchmark (bench/run.ts compiles it with `gcc -O2`).
//
//   wsload ws   HOST PORT PATHFILE N [CONCURRENCY]   WebSocket clients (RFC 6455)
//   wsload eio4 HOST PORT PATHFILE N [CONCURRENCY]   Socket.IO v4 clients (Engine.IO v4 over websocket)
//   wsload eio3 HOST PORT PATHFILE N [CONCURRENCY]   socket.io-client 2.x clients (Engine.IO v3 over websocket):
//                                                   wait for the server's `40`, log in with `421["login","u<i>"]`,
//                                                   count the connection once the login is acked; ping (`2`)
//                                                   every 20 s, as EIO3 clients do
//   wsload pusher HOST PORT PATHFILE N [CONCURRENCY] Pusher protocol clients (pusher-js): on
//                                                   `pusher:connection_established`, subscribe to the public
//                                                   channel `news`; count the connection once
//                                                   `pusher_internal:subscription_succeeded` comes; answer
//                                                   `pusher:ping`; deliveries carry `\"t\":` in their data string
//   wsload uid HOST PORT PATHFILE N [CONCURRENCY]    Workerman-style clients (Herald's compat port 1234): right
//                                                   after the upgrade, send the uid `u<i>` as the first text frame;
//                                                   counted as connected then (the server answers nothing)
//   wsload resume HOST PORT TOKENFILE N [CONCURRENCY] [MIN_MS] [MAX_MS]
//                                                   native clients that resume (the reconnect storm, bench/workloads/
//                                                   storm.ts): client i opens /ws and authenticates with line i of
//                                                   TOKENFILE (a token for user u<i>) in an auth frame carrying its
//                                                   last offset/epoch of `user:u<i>`; counted connected at `welcome`.
//                                                   When its socket closes (4000 on a restart, a reset, a refused
//                                                   connect) it reconnects after a delay drawn from [0, ceiling],
//                                                   ceiling = min(MAX_MS, MIN_MS * 2^attempt), attempt reset by a
//                                                   welcome: the SDK's full-jitter backoff (client/backoff.ts, its
//                                                   defaults 500 and 30,000 ms); after a `shutdown` frame, as the
//                                                   SDK, every attempt within its reconnectWithin window until
//                                                   window + 30 s. Messages carry {"n":<k>}, the k-th
//                                                   message to that user: each client keeps the count of 1..k all
//                                                   received and a 64-bit window of early ones, and so counts
//                                                   duplicates and out-of-order arrivals exactly in ~60 bytes.
//                                                   Extra commands: `arm` (a storm begins: `back` is printed once
//                                                   every client has dropped since and is welcomed again), `mark K`
//                                                   (client i must have every message k < K of the publisher's
//                                                   round robin, k mod N = i: `caught` is printed once all do),
//                                                   `counts` (drops, reconnects, lost against the mark, duplicated,
//                                                   reordered, recoveries that were not `recovered`)
//   wsload text HOST PORT COUNT WINDOW USERS TIMEOUT_MS
//                                                   a Workerman Text-protocol backend (port 5678): COUNT JSON lines
//                                                   on one connection, at most WINDOW unanswered, each answered
//                                                   `ok\n` / `fail\n` in order; line k is
//                                                   {"uid":"u<k % USERS>","t":<now>,...}, or with USERS 0
//                                                   {"broadcast":true,"t":<now>,...}; prints one line: lines, ok,
//                                                   fail, other, first_us, seconds, rate, p50/p99 ms (line->answer),
//                                                   cpu_s
//   wsload http HOST PORT CONNS COUNT USERS KEY TIMEOUT_MS
//                                                   closed-loop keep-alive POST /api/publish, one user each
//   wsload req HOST PORT CONNS COUNT REQFILE TIMEOUT_MS
//                                                   closed-loop keep-alive: the same whole HTTP request (REQFILE's
//                                                   bytes, e.g. a pre-signed Pusher `events` call) COUNT times
//   http/req print one line: requests, bad (non-2xx), rps, p50/p99/max ms, cpu_s (this process's CPU seconds)
//
// ws/eio*: PATHFILE holds one request path per line (cycled when shorter than N), e.g. /ws?token=<jwt>.
// Connections are spread over source addresses 127.0.0.2-127.0.0.9 (IP_BIND_ADDRESS_NO_PORT). Every text
// frame whose payload holds `"t":<CLOCK_MONOTONIC µs>` (or `\"t\":`, the same JSON carried as a JSON string,
// as in Socket.IO `new_msg` packets) counts as one delivery; its publish->receipt latency
// goes into a 10 µs histogram. Commands on stdin, one per line, each answered by one JSON line on stdout:
//   report | reset | expect <deliveries> <timeout ms> | quit
//   loop <k>   closed-loop round trips (ws mode): every open connection sends k text messages {"t":<now>,...} now,
//              and one more each time it receives a delivery, so k stay in flight per connection; the server's
//              reply must carry the message's `t` back (its latency is the round trip)
//   stop       stop sending (replies still in flight are counted)
// Traffic goes only to the given host, which the orchestrator sets to 127.0.0.1.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define HBUCKET_US 10
#define HBUCKETS 2000000 /* 20 s */

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static uint64_t *hist;
static uint64_t hcount, delivered, frames, reads_n, first_rx, last_rx, lat_max, closed_n, pings, sent_n;
static int looping; /* `loop` is on: each delivery is answered with the next message */

static void reset_stats(void) {
  memset(hist, 0, sizeof(uint64_t) * HBUCKETS);
  hcount = delivered = frames = reads_n = first_rx = last_rx = lat_max = pings = sent_n = 0;
}

static void record(uint64_t lat) {
  uint64_t b = lat / HBUCKET_US;
  if (b >= HBUCKETS) b = HBUCKETS - 1;
  hist[b]++;
  hcount++;
  if (lat > lat_max) lat_max = lat;
}

static double pct(double p) {
  if (hcount == 0) return 0;
  uint64_t want = (uint64_t)(p * (double)hcount);
  if (want >= hcount) want = hcount - 1;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < HBUCKETS; i++) {
    acc += hist[i];
    if (acc > want) return (double)(i * HBUCKET_US + HBUCKET_US / 2) / 1000.0;
  }
  return (double)lat_max / 1000.0;
}

enum { ST_CONNECTING, ST_HS, ST_LOGIN, ST_OPEN, ST_DEAD }; /* ST_LOGIN: eio3, upgraded, login not yet acked */

typedef struct {
  int fd;
  int st;
  int idx;
  unsigned char *buf; /* leftover bytes of a partial frame / response */
  size_t len, cap;
  /* http mode */
  uint64_t sent_at;
  int inflight;
} conn_t;

static int mode_eio, mode_pusher, mode_uid, mode_resume, ep; /* mode_eio: 0 (ws), 3 or 4 (Engine.IO version) */
static uint64_t refused_n; /* eio3 logins answered {ok:false}; pusher:error frames */
static conn_t *conns;
static int nconn, connected_n, failed_n, in_progress;
static char **paths;
static int npaths;
static const char *host;
static int port;
static struct sockaddr_in dst;

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int open_conn(int i) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in src = {0};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(2 + i % 8));
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) { close(fd); return -1; }
  set_nonblock(fd);
  int r = connect(fd, (struct sockaddr *)&dst, sizeof dst);
  if (r < 0 && errno != EINPROGRESS) { close(fd); return -1; }
  return fd;
}

static void buf_append(conn_t *c, const unsigned char *p, size_t n) {
  if (c->len + n > c->cap) {
    size_t nc = c->cap ? c->cap : 4096;
    while (nc < c->len + n) nc *= 2;
    c->buf = realloc(c->buf, nc);
    c->cap = nc;
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
}

static void write_all(int fd, const void *p, size_t n) {
  const char *s = p;
  int spins = 0;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w > 0) { s += w; n -= (size_t)w; continue; }
    if (w < 0 && (errno == EAGAIN || errno == EINTR) && spins++ < 100000) continue;
    return;
  }
}

/* Client frames must be masked; a zero mask key leaves the payload as is. */
static void send_text(int fd, const char *s) {
  unsigned char f[2048];
  size_t n = strlen(s), h = 2;
  if (n > sizeof f - 8) return;
  f[0] = 0x81;
  if (n <= 125) f[1] = 0x80 | (unsigned char)n;
  else {
    f[1] = 0x80 | 126;
    f[2] = (unsigned char)(n >> 8);
    f[3] = (unsigned char)n;
    h = 4;
  }
  memset(f + h, 0, 4);
  memcpy(f + h + 4, s, n);
  write_all(fd, f, h + 4 + n);
}

/* One closed-loop message: a short text as a chat client sends, stamped with the send time. */
static void send_loop_msg(int fd) {
  char m[96];
  snprintf(m, sizeof m, "{\"t\":%llu,\"text\":\"hello from a plain client\"}", (unsigned long long)now_us());
  send_text(fd, m);
  sent_n++;
}

static void send_ctrl(int fd, int op, const unsigned char *p, size_t n) {
  unsigned char f[140];
  if (n > 125) n = 125;
  f[0] = 0x80 | op;
  f[1] = 0x80 | (unsigned char)n;
  memset(f + 2, 0, 4);
  memcpy(f + 6, p, n);
  write_all(fd, f, 6 + n);
}

static void r_down(conn_t *c);

/* Closes the socket and frees its buffer: the connection is dead until it is opened again. */
static void release(conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->st = ST_DEAD;
  free(c->buf);
  c->buf = NULL;
  c->len = c->cap = 0;
}

static void kill_conn(conn_t *c) {
  if (c->st == ST_DEAD) return;
  if (mode_resume) { r_down(c); return; }
  if (c->st == ST_OPEN) closed_n++;
  if (c->st != ST_OPEN) { failed_n++; in_progress--; }
  release(c);
}

static void r_payload(conn_t *c, const unsigned char *p, size_t n, uint64_t now);

static void on_payload(conn_t *c, const unsigned char *p, size_t n, uint64_t now) {
  frames++;
  if (mode_resume) { r_payload(c, p, n, now); return; }
  if (mode_eio == 4) {
    if (n == 1 && p[0] == '2') { send_text(c->fd, "3"); pings++; return; }
    if (n >= 1 && p[0] == '0') { send_text(c->fd, "40"); return; }
  } else if (mode_eio == 3) {
    /* EIO3: the client pings and the server answers `3`; the server connects the default namespace itself (`40`,
       which the client must not send again: a second CONNECT closes the connection). */
    if (n == 1 && p[0] == '3') { pings++; return; }
    if (n >= 1 && p[0] == '0') return;
    if (n == 2 && p[0] == '4' && p[1] == '0') {
      char login[64];
      snprintf(login, sizeof login, "421[\"login\",\"u%d\"]", c->idx);
      send_text(c->fd, login);
      return;
    }
    if (n >= 3 && p[0] == '4' && p[1] == '3' && p[2] == '1') {
      if (!memmem(p, n, "\"ok\":true", 9)) refused_n++;
      if (c->st == ST_LOGIN) { c->st = ST_OPEN; connected_n++; in_progress--; }
      return;
    }
  } else if (mode_pusher) {
    /* Server frames are {"event":"<name>",...}: p[10] is the name's first byte, `p` only for the protocol's own. */
    if (n > 10 && p[10] == 'p') {
      if (memmem(p, n, "pusher:connection_established", 29)) {
        send_text(c->fd, "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"\",\"channel\":\"news\"}}");
      } else if (memmem(p, n, "pusher_internal:subscription_succeeded", 38)) {
        if (c->st == ST_LOGIN) { c->st = ST_OPEN; connected_n++; in_progress--; }
      } else if (memmem(p, n, "pusher:ping", 11)) {
        send_text(c->fd, "{\"event\":\"pusher:pong\",\"data\":{}}");
        pings++;
      } else if (memmem(p, n, "pusher:subscription_error", 25)) {
        refused_n++; /* counted as connected, as an eio3 login answered {ok:false}: `refused` says how many */
        if (c->st == ST_LOGIN) { c->st = ST_OPEN; connected_n++; in_progress--; }
      } else if (memmem(p, n, "pusher:error", 12)) refused_n++;
      return;
    }
  } else if (n < 40 && memmem(p, n, "\"type\":\"ping\"", 13)) {
    send_text(c->fd, "{\"type\":\"pong\"}");
    pings++;
    return;
  }
  const unsigned char *q = mode_pusher ? NULL : memmem(p, n, "\"t\":", 4);
  if (q) q += 4;
  else if ((q = memmem(p, n, "\\\"t\\\":", 6))) q += 6; /* \"t\": inside a JSON string */
  else return;
  uint64_t t = 0;
  while (q < p + n && *q >= '0' && *q <= '9') t = t * 10 + (uint64_t)(*q++ - '0');
  delivered++;
  if (first_rx == 0) first_rx = now;
  last_rx = now;
  record(now > t ? now - t : 0);
  if (looping && c->st == ST_OPEN) send_loop_msg(c->fd);
}

static int close_code; /* the code of the close frame being handled, 0 when the socket just ended */

/* Parses complete frames from p[0..n); returns the number of bytes consumed. */
static size_t parse_frames(conn_t *c, const unsigned char *p, size_t n, uint64_t now) {
  size_t off = 0;
  while (n - off >= 2) {
    const unsigned char *f = p + off;
    int op = f[0] & 0x0f;
    uint64_t len = f[1] & 0x7f;
    size_t h = 2;
    if (len == 126) { if (n - off < 4) break; len = ((uint64_t)f[2] << 8) | f[3]; h = 4; }
    else if (len == 127) {
      if (n - off < 10) break;
      len = 0;
      for (int k = 0; k < 8; k++) len = (len << 8) | f[2 + k];
      h = 10;
    }
    if (f[1] & 0x80) h += 4; /* servers do not mask, but tolerate it */
    if (n - off < h + len) break;
    const unsigned char *pl = f + h;
    if (op == 0x1 || op == 0x2 || op == 0x0) on_payload(c, pl, (size_t)len, now);
    else if (op == 0x9) send_ctrl(c->fd, 0xA, pl, (size_t)len);
    else if (op == 0x8) {
      close_code = len >= 2 ? (pl[0] << 8) | pl[1] : 1005;
      off = n;
      kill_conn(c);
      return off;
    }
    off += h + (size_t)len;
  }
  return off;
}

static void send_handshake(conn_t *c) {
  char req[8192];
  const char *path = mode_resume ? "/ws" : paths[c->idx % npaths];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  write_all(c->fd, req, (size_t)n);
  c->st = ST_HS;
}

/* ---- resume mode: native clients that reconnect and resume (the reconnect storm) ---- */
typedef struct {
  uint64_t offset; /* last offset of user:u<i> received, 0 = none */
  uint64_t ahead;  /* bit j: message have+2+j arrived early */
  uint64_t due;    /* dead: when to reconnect; dialing: when to give up (the SDK's connectTimeoutMs); µs, 0 = none */
  uint32_t have;   /* messages 1..have of this user all received */
  uint64_t restart_until; /* after a server's shutdown frame: quick retries until then (µs), 0 = none */
  uint32_t within;  /* the window of the server's shutdown frame, ms; 0 = none */
  uint8_t attempt; /* failed attempts since the last welcome (the backoff's exponent) */
  uint8_t up;      /* welcomed, socket open */
  uint8_t dropped; /* dropped since `arm` */
  uint8_t ever;    /* welcomed at least once */
  char epoch[24];
} rs_t;

static rs_t *rs;
static uint64_t r_min_ms = 500, r_max_ms = 30000, r_timeouts, r_next_due, r_mark, r_behind, r_marked;
static uint64_t r_shutdown_frames;
static uint64_t r_drops, r_reconnects, r_conn_fail, r_close4000, r_resets, r_final, r_msgs, r_dup, r_reorder, r_unrecovered, r_far;
static uint64_t r_arm_us, r_first_drop_us, r_back_us;
static int r_open, r_armed, r_dropped_clients, r_back_sent, r_caught_sent;
static unsigned int r_rng = 2463534242u;

static uint32_t r_need(int i) { return (uint64_t)i < r_mark ? (uint32_t)((r_mark - 1 - (uint64_t)i) / (uint64_t)nconn + 1) : 0; }

static void r_emit_caught(uint64_t now) {
  if (!r_marked || r_behind > 0 || r_caught_sent) return;
  r_caught_sent = 1;
  printf("{\"event\":\"caught\",\"us\":%llu,\"mark\":%llu}\n", (unsigned long long)now, (unsigned long long)r_mark);
  fflush(stdout);
}

static void r_arm_timer(rs_t *r, uint64_t at) {
  r->due = at;
  if (r_next_due == 0 || at < r_next_due) r_next_due = at;
}

static void r_auth(conn_t *c) {
  rs_t *r = &rs[c->idx];
  char f[1536];
  if (r->offset > 0)
    snprintf(f, sizeof f, "{\"type\":\"auth\",\"token\":\"%s\",\"positions\":{\"user:u%d\":{\"offset\":%llu,\"epoch\":\"%s\"}}}", paths[c->idx % npaths],
             c->idx, (unsigned long long)r->offset, r->epoch);
  else snprintf(f, sizeof f, "{\"type\":\"auth\",\"token\":\"%s\"}", paths[c->idx % npaths]);
  send_text(c->fd, f);
}

/* The socket is gone (close frame, EOF, reset, refused connect): close it and schedule the next attempt. */
static void r_down(conn_t *c) {
  rs_t *r = &rs[c->idx];
  uint64_t now = now_us();
  release(c);
  if (r->up) {
    r->up = 0;
    r_open--;
    r_drops++;
    if (close_code == 4000) r_close4000++;
    else if (close_code == 0) r_resets++;
    if (r_armed && !r->dropped) {
      r->dropped = 1;
      r_dropped_clients++;
      if (r_first_drop_us == 0) r_first_drop_us = now;
    }
  } else r_conn_fail++;
  /* 4500-4999 are final (protocol.md section 7): the SDK stops, and so does this client (it then never counts as back). */
  if (close_code >= 4500 && close_code <= 4999) { r_final++; close_code = 0; return; }
  close_code = 0;
  r_rng ^= r_rng << 13, r_rng ^= r_rng >> 17, r_rng ^= r_rng << 5;
  double u = (double)r_rng / 4294967296.0;
  /* The SDK's client/backoff.ts: after a shutdown frame, every attempt at a random moment within the server's
     window while the restart lasts (window + 30 s); else full jitter. */
  if (now < r->restart_until) {
    r_arm_timer(r, now + (uint64_t)(u * (double)r->within * 1000.0) + 1);
    return;
  }
  uint64_t ceiling = r_min_ms << (r->attempt < 20 ? r->attempt : 20);
  if (ceiling > r_max_ms) ceiling = r_max_ms;
  if (r->attempt < 30) r->attempt++;
  r_arm_timer(r, now + (uint64_t)(u * (double)ceiling * 1000.0) + 1);
}

/* The SDK gives an attempt 20 s (connectTimeoutMs) to reach its welcome, then drops it and backs off: an attempt
   stuck in the kernel's SYN retransmits (a full listen queue drops SYNs) is cut there too. */
#define R_CONNECT_TIMEOUT_US 20000000ull

static void r_dial(conn_t *c) {
  c->fd = open_conn(c->idx);
  c->st = ST_CONNECTING;
  if (c->fd < 0) { c->fd = -1; r_down(c); return; }
  r_arm_timer(&rs[c->idx], now_us() + R_CONNECT_TIMEOUT_US);
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)c->idx};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

/* Reconnects the clients whose delay has passed; a scan, but only when the earliest one is due. */
static void r_timers(uint64_t now) {
  if (r_next_due == 0 || now < r_next_due) return;
  r_next_due = 0;
  for (int i = 0; i < nconn; i++) {
    rs_t *r = &rs[i];
    if (r->due == 0) continue;
    if (r->due <= now) {
      r->due = 0;
      if (conns[i].st == ST_DEAD) r_dial(&conns[i]);
      else { r_timeouts++; r_down(&conns[i]); }
    }
    else if (r_next_due == 0 || r->due < r_next_due) r_next_due = r->due;
  }
}

static uint64_t num_after(const unsigned char *p, size_t n, const char *key) {
  size_t kl = strlen(key);
  const unsigned char *q = memmem(p, n, key, kl);
  uint64_t v = 0;
  if (!q) return 0;
  for (q += kl; q < p + n && *q >= '0' && *q <= '9'; q++) v = v * 10 + (uint64_t)(*q - '0');
  return v;
}

static void copy_epoch(rs_t *r, const unsigned char *p, size_t n) {
  const unsigned char *q = memmem(p, n, "\"epoch\":\"", 9);
  if (!q) return;
  q += 9;
  size_t k = 0;
  while (q + k < p + n && q[k] != '"' && k < sizeof r->epoch - 1) k++;
  memcpy(r->epoch, q, k);
  r->epoch[k] = 0;
}

static void r_payload(conn_t *c, const unsigned char *p, size_t n, uint64_t now) {
  rs_t *r = &rs[c->idx];
  if (n < 20) {
    if (memmem(p, n, "\"type\":\"ping\"", 13)) { send_text(c->fd, "{\"type\":\"pong\"}"); pings++; }
    return;
  }
  if (memcmp(p, "{\"type\":\"shutdown\"", 18) == 0) {
    uint64_t w = num_after(p, n, "\"reconnectWithin\":");
    if (w > 120000) w = 120000;
    r->within = (uint32_t)w;
    r->restart_until = now + (w + 30000) * 1000;
    r_shutdown_frames++;
    return;
  }
  if (memcmp(p, "{\"type\":\"message\"", 17) == 0) {
    if (!memmem(p, n, "\"stream\":\"user:", 15)) return;
    uint64_t off = num_after(p, n, "\"offset\":"), k = num_after(p, n, "\"n\":");
    if (off > r->offset) { r->offset = off; copy_epoch(r, p, n); }
    r_msgs++;
    delivered++;
    if (first_rx == 0) first_rx = now;
    last_rx = now;
    uint32_t before = r->have;
    if (k == (uint64_t)r->have + 1) {
      r->have++;
      while (r->ahead & 1) { r->ahead >>= 1; r->have++; }
      r->ahead >>= 1;
    } else if (k <= r->have) r_dup++;
    else {
      uint64_t j = k - r->have - 2;
      if (j >= 64) r_far++; /* beyond the window: counted, not tracked (the publisher keeps far fewer per user) */
      else if (r->ahead & (1ull << j)) r_dup++;
      else { r->ahead |= 1ull << j; r_reorder++; }
    }
    if (r_marked && before < r_need(c->idx) && r->have >= r_need(c->idx)) { r_behind--; r_emit_caught(now); }
    return;
  }
  if (memcmp(p, "{\"type\":\"welcome\"", 17) == 0) {
    if (c->st != ST_LOGIN) return;
    c->st = ST_OPEN;
    r->up = 1;
    r->attempt = 0;
    r->due = 0;
    r->within = 0;
    r->restart_until = 0;
    r_open++;
    if (!r->ever) { r->ever = 1; connected_n++; in_progress--; }
    else r_reconnects++;
    if (r_armed && !r_back_sent && r_dropped_clients == nconn && r_open == nconn) {
      r_back_sent = 1;
      r_back_us = now;
      printf("{\"event\":\"back\",\"us\":%llu,\"first_drop_us\":%llu}\n", (unsigned long long)now, (unsigned long long)r_first_drop_us);
      fflush(stdout);
    }
    return;
  }
  if (memcmp(p, "{\"type\":\"recovery\"", 18) == 0 && memmem(p, n, "\"stream\":\"user:", 15)) {
    /* protocol.md 3.2: after `recovered: false` continue after top - replay (never expected here: counted). */
    if (memmem(p, n, "\"recovered\":false", 17)) {
      if (r->offset > 0) r_unrecovered++;
      uint64_t top = num_after(p, n, "\"top\":"), replay = num_after(p, n, "\"replay\":");
      r->offset = top - replay;
      copy_epoch(r, p, n);
    } else if (r->epoch[0] == 0) copy_epoch(r, p, n);
  }
}

static void r_counts(void) {
  uint64_t lost = 0, got = 0, behind = 0;
  for (int i = 0; i < nconn; i++) {
    uint64_t d = rs[i].have + (uint64_t)__builtin_popcountll(rs[i].ahead), need = r_need(i);
    got += d;
    if (d < need) lost += need - d;
    if (rs[i].have < need) behind++;
  }
  printf("{\"event\":\"counts\",\"clients\":%d,\"open\":%d,\"drops\":%llu,\"reconnects\":%llu,\"conn_fail\":%llu,\"close4000\":%llu,"
         "\"shutdown_frames\":%llu,\"resets\":%llu,\"timeouts\":%llu,\"final\":%llu,\"frames\":%llu,\"msgs\":%llu,\"distinct\":%llu,\"mark\":%llu,\"lost\":%llu,\"behind\":%llu,"
         "\"dup\":%llu,\"reordered\":%llu,\"far\":%llu,\"unrecovered\":%llu,\"pings\":%llu,\"arm_us\":%llu,\"first_drop_us\":%llu,\"back_us\":%llu}\n",
         nconn, r_open, (unsigned long long)r_drops, (unsigned long long)r_reconnects, (unsigned long long)r_conn_fail,
         (unsigned long long)r_close4000, (unsigned long long)r_shutdown_frames, (unsigned long long)r_resets, (unsigned long long)r_timeouts, (unsigned long long)r_final, (unsigned long long)frames,
         (unsigned long long)r_msgs, (unsigned long long)got, (unsigned long long)r_mark, (unsigned long long)lost, (unsigned long long)behind,
         (unsigned long long)r_dup, (unsigned long long)r_reorder, (unsigned long long)r_far, (unsigned long long)r_unrecovered,
         (unsigned long long)pings, (unsigned long long)r_arm_us, (unsigned long long)r_first_drop_us, (unsigned long long)r_back_us);
  fflush(stdout);
}

/* Returns 1 when `line` was a resume-mode command. */
static int r_command(const char *line) {
  if (strncmp(line, "arm", 3) == 0) {
    /* A client already down (between attempts) counts as dropped: it too must come back. */
    r_dropped_clients = r_back_sent = 0;
    for (int i = 0; i < nconn; i++) r_dropped_clients += (rs[i].dropped = !rs[i].up);
    r_armed = 1;
    r_first_drop_us = r_back_us = 0;
    r_arm_us = now_us();
    printf("{\"event\":\"armed\",\"us\":%llu}\n", (unsigned long long)r_arm_us);
  } else if (strncmp(line, "mark", 4) == 0) {
    r_mark = strtoull(line + 4, NULL, 10);
    r_marked = 1;
    r_caught_sent = 0;
    r_behind = 0;
    for (int i = 0; i < nconn; i++) r_behind += rs[i].have < r_need(i);
    printf("{\"event\":\"mark\",\"mark\":%llu,\"behind\":%llu}\n", (unsigned long long)r_mark, (unsigned long long)r_behind);
    fflush(stdout);
    r_emit_caught(now_us());
    return 1;
  } else if (strncmp(line, "counts", 6) == 0) {
    r_counts();
    return 1;
  } else return 0;
  fflush(stdout);
  return 1;
}

static unsigned char rbuf[1 << 18];

static void on_readable(conn_t *c, uint64_t now) {
  for (;;) {
    ssize_t r = read(c->fd, rbuf, sizeof rbuf);
    if (r == 0) { kill_conn(c); return; }
    if (r < 0) { if (errno != EAGAIN && errno != EINTR) kill_conn(c); return; }
    reads_n++;
    const unsigned char *p = rbuf;
    size_t n = (size_t)r;
    if (c->len > 0 || c->st == ST_HS) {
      buf_append(c, rbuf, n);
      p = c->buf;
      n = c->len;
    }
    size_t off = 0;
    if (c->st == ST_HS) {
      unsigned char *e = memmem(p, n, "\r\n\r\n", 4);
      if (!e) continue;
      if (n < 12 || memcmp(p + 9, "101", 3) != 0) { kill_conn(c); return; }
      off = (size_t)(e - p) + 4;
      if (mode_eio == 3 || mode_pusher || mode_resume) c->st = ST_LOGIN;
      else { c->st = ST_OPEN; connected_n++; in_progress--; }
      if (mode_resume) r_auth(c);
      if (mode_uid) {
        char uid[32];
        snprintf(uid, sizeof uid, "u%d", c->idx);
        send_text(c->fd, uid);
      }
    }
    off += parse_frames(c, p + off, n - off, now);
    if (c->st == ST_DEAD) return;
    if (p == c->buf) {
      memmove(c->buf, c->buf + off, n - off);
      c->len = n - off;
      if (c->len == 0 && c->cap > 65536) { free(c->buf); c->buf = NULL; c->cap = 0; }
    } else if (off < n) {
      buf_append(c, p + off, n - off);
    }
    if ((size_t)r < sizeof rbuf) return;
  }
}

static void emit_report(const char *ev) {
  printf("{\"event\":\"%s\",\"delivered\":%llu,\"frames\":%llu,\"reads\":%llu,\"first_rx_us\":%llu,\"last_rx_us\":%llu,"
         "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"open\":%d,\"closed\":%llu,\"failed\":%d,\"pings\":%llu,\"refused\":%llu,\"sent\":%llu,\"now_us\":%llu}\n",
         ev, (unsigned long long)delivered, (unsigned long long)frames, (unsigned long long)reads_n,
         (unsigned long long)first_rx, (unsigned long long)last_rx, pct(0.50), pct(0.90), pct(0.99),
         (double)lat_max / 1000.0, connected_n - (int)closed_n, (unsigned long long)closed_n, failed_n,
         (unsigned long long)pings, (unsigned long long)refused_n, (unsigned long long)sent_n, (unsigned long long)now_us());
  fflush(stdout);
}

static char cmdbuf[4096];
static size_t cmdlen;
static uint64_t expect_n, expect_deadline;

/* Returns 1 to quit. */
static int on_command(char *line) {
  if (strncmp(line, "quit", 4) == 0) return 1;
  if (mode_resume && r_command(line)) return 0;
  if (strncmp(line, "reset", 5) == 0) { reset_stats(); printf("{\"event\":\"reset\"}\n"); fflush(stdout); }
  else if (strncmp(line, "report", 6) == 0) emit_report("report");
  else if (strncmp(line, "loop", 4) == 0) {
    int k = atoi(line + 4);
    uint64_t t = now_us();
    looping = 1;
    for (int i = 0; i < nconn; i++)
      if (conns[i].st == ST_OPEN)
        for (int j = 0; j < k; j++) send_loop_msg(conns[i].fd);
    printf("{\"event\":\"loop\",\"us\":%llu}\n", (unsigned long long)t);
    fflush(stdout);
  } else if (strncmp(line, "stop", 4) == 0) {
    looping = 0;
    printf("{\"event\":\"stop\",\"sent\":%llu}\n", (unsigned long long)sent_n);
    fflush(stdout);
  }
  else if (strncmp(line, "expect", 6) == 0) {
    unsigned long long k = 0, ms = 0;
    sscanf(line + 6, "%llu %llu", &k, &ms);
    expect_n = k;
    expect_deadline = now_us() + ms * 1000ull;
  }
  return 0;
}

static int on_stdin(void) {
  ssize_t r = read(0, cmdbuf + cmdlen, sizeof cmdbuf - 1 - cmdlen);
  if (r <= 0) return 1;
  cmdlen += (size_t)r;
  char *nl;
  while ((nl = memchr(cmdbuf, '\n', cmdlen))) {
    *nl = 0;
    if (on_command(cmdbuf)) return 1;
    size_t used = (size_t)(nl - cmdbuf) + 1;
    memmove(cmdbuf, cmdbuf + used, cmdlen - used);
    cmdlen -= used;
  }
  return 0;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
}

static int run_ws(int argc, char **argv) {
  if (argc < 6) return 2;
  host = argv[2];
  port = atoi(argv[3]);
  nconn = atoi(argv[5]);
  int conc = argc > 6 ? atoi(argv[6]) : 256;
  if (mode_resume) {
    if (argc > 7) r_min_ms = strtoull(argv[7], NULL, 10);
    if (argc > 8) r_max_ms = strtoull(argv[8], NULL, 10);
    if (r_min_ms < 1) r_min_ms = 1;
    rs = calloc((size_t)nconn, sizeof *rs);
    r_rng ^= (unsigned int)getpid() * 2654435761u;
  }
  FILE *pf = fopen(argv[4], "r");
  if (!pf) { perror("pathfile"); return 2; }
  size_t pcap = 1024;
  paths = malloc(pcap * sizeof *paths);
  char *line = NULL;
  size_t lcap = 0;
  ssize_t ll;
  while ((ll = getline(&line, &lcap, pf)) > 0) {
    while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) line[--ll] = 0;
    if (ll == 0) continue;
    if ((size_t)npaths == pcap) { pcap *= 2; paths = realloc(paths, pcap * sizeof *paths); }
    paths[npaths++] = strdup(line);
  }
  fclose(pf);
  if (npaths == 0) { fprintf(stderr, "no paths\n"); return 2; }
  conns = calloc((size_t)nconn, sizeof *conns);
  ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  uint64_t t0 = now_us(), last_ping = t0;
  int next = 0, announced = 0;
  struct epoll_event evs[1024];
  for (;;) {
    while (next < nconn && in_progress < conc) {
      conn_t *c = &conns[next];
      c->idx = next++;
      if (mode_resume) { in_progress++; r_dial(c); continue; }
      c->fd = open_conn(c->idx);
      if (c->fd < 0) { c->st = ST_DEAD; failed_n++; continue; }
      c->st = ST_CONNECTING;
      in_progress++;
      struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)c->idx};
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    }
    if (!announced && next >= nconn && in_progress == 0) {
      announced = 1;
      printf("{\"event\":\"connected\",\"ok\":%d,\"failed\":%d,\"refused\":%llu,\"ms\":%.1f}\n", connected_n, failed_n, (unsigned long long)refused_n,
             (double)(now_us() - t0) / 1000.0);
      fflush(stdout);
    }
    int timeout = expect_n ? 5 : (announced ? 200 : 50);
    if (mode_resume && r_next_due) {
      uint64_t t = now_us();
      int wait = r_next_due > t ? (int)((r_next_due - t) / 1000) : 0;
      if (wait < timeout) timeout = wait;
    }
    int k = epoll_wait(ep, evs, 1024, timeout);
    uint64_t now = now_us();
    if (mode_resume) r_timers(now);
    if (mode_eio == 3 && now - last_ping >= 20000000ull) {
      /* EIO3 servers close a connection that sent nothing for pingInterval + pingTimeout (45 s by default). */
      last_ping = now;
      for (int j = 0; j < next; j++) if (conns[j].st == ST_OPEN || conns[j].st == ST_LOGIN) send_text(conns[j].fd, "2");
    }
    for (int i = 0; i < k; i++) {
      if (evs[i].data.u64 == UINT64_MAX) { if (on_stdin()) return 0; continue; }
      conn_t *c = &conns[evs[i].data.u64];
      if (c->st == ST_DEAD) continue;
      if (evs[i].events & (EPOLLERR)) { kill_conn(c); continue; }
      if (c->st == ST_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) { kill_conn(c); continue; }
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)c->idx};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        send_handshake(c);
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP)) on_readable(c, now);
    }
    if (expect_n && (delivered >= expect_n || now_us() >= expect_deadline)) {
      expect_n = 0;
      emit_report(delivered >= expect_n ? "expect" : "expect");
    }
  }
}

/* ---- closed-loop HTTP publisher ---- */
static const char *api_key;
static char *raw_req; /* req mode: the whole request, sent as is */
static size_t raw_len;
static int users;
static uint64_t h_sent, h_done, h_bad, h_target;
static unsigned int rng = 12345;

static void http_send(conn_t *c) {
  if (raw_req) {
    c->sent_at = now_us();
    c->inflight = 1;
    h_sent++;
    write_all(c->fd, raw_req, raw_len);
    return;
  }
  char body[256], req[1024];
  rng = rng * 1103515245u + 12345u;
  int u = (int)((rng >> 8) % (unsigned)users);
  uint64_t t = now_us();
  int bl = snprintf(body, sizeof body, "{\"to\":{\"user\":\"u%d\"},\"data\":{\"t\":%llu,\"text\":\"a typical small message\"}}", u,
                    (unsigned long long)t);
  int n = snprintf(req, sizeof req,
                   "POST /api/publish HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n%s",
                   host, port, api_key, bl, body);
  c->sent_at = t;
  c->inflight = 1;
  h_sent++;
  write_all(c->fd, req, (size_t)n);
}

/* Returns bytes of one complete response at p, or 0 if incomplete. */
static size_t http_complete(const unsigned char *p, size_t n, int *status) {
  unsigned char *e = memmem(p, n, "\r\n\r\n", 4);
  if (!e) return 0;
  size_t hl = (size_t)(e - p) + 4;
  *status = n > 12 ? atoi((const char *)p + 9) : 0;
  const unsigned char *cl = NULL;
  for (const unsigned char *q = p; q + 15 < e; q++) {
    if ((*q == 'c' || *q == 'C') && strncasecmp((const char *)q, "content-length:", 15) == 0) { cl = q + 15; break; }
  }
  if (cl) {
    size_t len = (size_t)strtoul((const char *)cl, NULL, 10);
    return n >= hl + len ? hl + len : 0;
  }
  unsigned char *z = memmem(e, n - (size_t)(e - p), "\r\n0\r\n\r\n", 7);
  if (z) return (size_t)(z - p) + 7;
  return hl; /* no body */
}

static int run_http(int argc, char **argv) {
  if (argc < (raw_req ? 8 : 9)) return 2;
  host = argv[2];
  port = atoi(argv[3]);
  nconn = atoi(argv[4]);
  h_target = strtoull(argv[5], NULL, 10);
  if (!raw_req) {
    users = atoi(argv[6]);
    api_key = argv[7];
  }
  uint64_t timeout_ms = strtoull(argv[raw_req ? 7 : 8], NULL, 10);
  conns = calloc((size_t)nconn, sizeof *conns);
  ep = epoll_create1(0);
  for (int i = 0; i < nconn; i++) {
    conn_t *c = &conns[i];
    c->idx = i;
    c->fd = open_conn(i);
    if (c->fd < 0) { fprintf(stderr, "connect failed\n"); return 1; }
    struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
    int err = 0;
    socklen_t el = sizeof err;
    if (poll(&pfd, 1, 5000) != 1 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
      fprintf(stderr, "connect failed\n");
      return 1;
    }
  }
  for (int i = 0; i < nconn; i++) {
    /* wait for the connect, then switch back to non-blocking */
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
    conns[i].st = ST_OPEN;
  }
  usleep(20000);
  uint64_t t0 = now_us(), deadline = t0 + timeout_ms * 1000ull;
  for (int i = 0; i < nconn && h_sent < h_target; i++) http_send(&conns[i]);
  struct epoll_event evs[256];
  while (h_done < h_target && now_us() < deadline) {
    int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; i++) {
      conn_t *c = &conns[evs[i].data.u64];
      if (c->st == ST_DEAD) continue;
      ssize_t r = read(c->fd, rbuf, sizeof rbuf);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { kill_conn(c); continue; }
      if (r < 0) continue;
      buf_append(c, rbuf, (size_t)r);
      int status = 0;
      size_t used;
      while (c->len > 0 && (used = http_complete(c->buf, c->len, &status)) > 0) {
        uint64_t now = now_us();
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        h_done++;
        if (status < 200 || status > 299) h_bad++;
        record(now - c->sent_at);
        c->inflight = 0;
        if (h_sent < h_target) http_send(c);
      }
    }
    int alive = 0;
    for (int i = 0; i < nconn; i++) alive += conns[i].st != ST_DEAD;
    if (!alive) break;
  }
  double secs = (double)(now_us() - t0) / 1e6;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf("{\"event\":\"http\",\"requests\":%llu,\"bad\":%llu,\"seconds\":%.4f,\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"cpu_s\":%.3f}\n",
         (unsigned long long)h_done, (unsigned long long)h_bad, secs, (double)h_done / secs, pct(0.5), pct(0.99), (double)lat_max / 1000.0, cpu);
  fflush(stdout);
  return 0;
}

/* ---- Workerman Text-protocol backend: pipelined JSON lines on one connection ---- */
static int run_text(int argc, char **argv) {
  if (argc < 8) return 2;
  uint64_t count = strtoull(argv[4], NULL, 10);
  uint64_t window = strtoull(argv[5], NULL, 10);
  int nusers = atoi(argv[6]);
  uint64_t timeout_ms = strtoull(argv[7], NULL, 10);
  if (window < 1) window = 1;
  int fd = open_conn(0);
  struct pollfd pfd = {.fd = fd, .events = POLLOUT};
  int err = 0;
  socklen_t el = sizeof err;
  if (fd < 0 || poll(&pfd, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
    fprintf(stderr, "connect failed\n");
    return 1;
  }
  uint64_t *sent_at = calloc(window, sizeof *sent_at); /* send times of the unanswered lines, a ring in line order */
  char *out = malloc(window * 160);
  uint64_t sent = 0, answered = 0, ok = 0, fail = 0, other = 0;
  int line_start = 1;
  char first = 0;
  uint64_t t0 = now_us(), deadline = t0 + timeout_ms * 1000ull;
  pfd.events = POLLIN;
  while (answered < count && now_us() < deadline) {
    size_t n = 0;
    uint64_t t = now_us();
    for (; sent < count && sent - answered < window; sent++) {
      if (nusers > 0)
        n += (size_t)sprintf(out + n, "{\"uid\":\"u%llu\",\"t\":%llu,\"content\":\"a typical small message\"}\n",
                             (unsigned long long)(sent % (uint64_t)nusers), (unsigned long long)t);
      else n += (size_t)sprintf(out + n, "{\"broadcast\":true,\"t\":%llu,\"content\":\"a typical small message\"}\n", (unsigned long long)t);
      sent_at[sent % window] = t;
    }
    if (n > 0) write_all(fd, out, n);
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t r = read(fd, rbuf, sizeof rbuf);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
    uint64_t now = now_us();
    for (ssize_t i = 0; i < r; i++) {
      char ch = (char)rbuf[i];
      if (line_start) { first = ch; line_start = 0; }
      if (ch != '\n') continue;
      line_start = 1;
      if (first == 'o') ok++;
      else if (first == 'f') fail++;
      else other++;
      record(now - sent_at[answered % window]);
      answered++;
    }
  }
  double secs = (double)(now_us() - t0) / 1e6;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf("{\"event\":\"text\",\"lines\":%llu,\"answered\":%llu,\"ok\":%llu,\"fail\":%llu,\"other\":%llu,\"first_us\":%llu,\"seconds\":%.4f,"
         "\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"cpu_s\":%.3f}\n",
         (unsigned long long)sent, (unsigned long long)answered, (unsigned long long)ok, (unsigned long long)fail, (unsigned long long)other,
         (unsigned long long)t0, secs, (double)answered / secs, pct(0.5), pct(0.99), (double)lat_max / 1000.0, cpu);
  fflush(stdout);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: wsload ws|eio4|eio3|pusher|uid HOST PORT PATHFILE N [CONC] | wsload resume HOST PORT TOKENFILE N [CONC] [MIN_MS] [MAX_MS] | wsload http HOST PORT CONNS COUNT USERS KEY TIMEOUT_MS"
                    " | wsload req HOST PORT CONNS COUNT REQFILE TIMEOUT_MS | wsload text HOST PORT COUNT WINDOW USERS TIMEOUT_MS\n");
    return 2;
  }
  raise_nofile();
  hist = calloc(HBUCKETS, sizeof(uint64_t));
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  if (argc > 3) {
    dst.sin_port = htons((uint16_t)atoi(argv[3]));
    inet_pton(AF_INET, argv[2], &dst.sin_addr);
    if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127) { fprintf(stderr, "wsload only talks to 127.0.0.0/8\n"); return 2; }
  }
  if (strcmp(argv[1], "ws") == 0) return run_ws(argc, argv);
  if (strcmp(argv[1], "eio4") == 0) { mode_eio = 4; return run_ws(argc, argv); }
  if (strcmp(argv[1], "eio3") == 0) { mode_eio = 3; return run_ws(argc, argv); }
  if (strcmp(argv[1], "pusher") == 0) { mode_pusher = 1; return run_ws(argc, argv); }
  if (strcmp(argv[1], "uid") == 0) { mode_uid = 1; return run_ws(argc, argv); }
  if (strcmp(argv[1], "resume") == 0) { mode_resume = 1; return run_ws(argc, argv); }
  if (strcmp(argv[1], "http") == 0) return run_http(argc, argv);
  if (strcmp(argv[1], "text") == 0) return run_text(argc, argv);
  if (strcmp(argv[1], "req") == 0 && argc > 6) {
    FILE *f = fopen(argv[6], "rb");
    if (!f) { perror("reqfile"); return 2; }
    raw_req = malloc(65536);
    raw_len = fread(raw_req, 1, 65536, f);
    fclose(f);
    if (raw_len == 0 || raw_len == 65536) { fprintf(stderr, "reqfile: empty or over 64 KB\n"); return 2; }
    return run_http(argc, argv);
  }
  return 2;
}
