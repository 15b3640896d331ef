// A local HTTP server for the runtime tests and the fetch benchmark: ranges
// (`bytes=a-b`, `bytes=a-`, If-Range), per-connection throttling, bearer
// auth, redirects and fault injection. Listens on 127.0.0.1 port 0 only;
// close() ends every open connection. It also answers proxy-style requests
// (`GET http://evilcivitai.com/x`), so tests can name any host without DNS:
// the fetcher runs with http_proxy pointing here, and stats are per host too.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export interface Route {
  /** Body to serve (files). */
  data?: Buffer;
  /** JSON to serve (fake APIs). */
  json?: unknown;
  /** Extra response headers, on every answer of this route (X-Error-Code, Link, RateLimit, ...). */
  headers?: Record<string, string>;
  /** Content-Type of a file (default application/octet-stream). */
  contentType?: string;
  /** Bytes per second for each connection (throttling). */
  rate?: number;
  /** Hold the responses whose range starts at this offset until `release()` (one stuck connection). */
  holdStart?: number;
  /** Send `trickle.bytes` bytes every `trickle.everyMs` ms (a stalled link). */
  trickle?: { bytes: number; everyMs: number };
  /** Required "Authorization: Bearer <token>" (401 without, 403 when wrong). */
  token?: string;
  /** Close the socket after this many body bytes (the next `dropTimes` responses, default 1). */
  dropAfter?: number;
  dropTimes?: number;
  /** Close every response's socket after this many body bytes. */
  dropEvery?: number;
  /** Answer 500 (or `failStatus`) to this many requests first. */
  fail500?: number;
  failStatus?: number;
  /** Always answer this status. */
  status?: number;
  /** Serve different bytes than `data` (same length). */
  corrupt?: boolean;
  /** Ignore Range headers (always 200 with the whole body). */
  noRange?: boolean;
  /** A close-delimited body: no Content-Length, not chunked; only the first `truncateAt` bytes when set. */
  noLength?: boolean;
  truncateAt?: number;
  /** Validators (default: a strong ETag from the data's hash). `etag: null` sends none. */
  etag?: string | null;
  lastModified?: string;
  /** 302 to this URL or path. */
  redirect?: string;
  /**
   * Hold each response's body until `barrier.n` requests under `barrier.key` are open at once
   * (proves they run in parallel). Then the barrier is down for good: a later request (a retry,
   * a free connection taking half of a segment) may come when the others have closed, and
   * would otherwise wait for company that never comes.
   */
  barrier?: { key: string; n: number };
  /** Hold the body at this offset of the file until `release()` (a transfer kept in progress). */
  holdAfter?: number;
}

export interface Stats {
  requests: number;
  /** Body bytes written to sockets. */
  bytes: number;
  ranges: string[];
  ifRange: (string | undefined)[];
  authorization: (string | undefined)[];
  /** Most requests open at the same time. */
  maxOpen: number;
}

export interface TestServer {
  base: string;
  port: number;
  routes: Map<string, Route>;
  /** Stats of a path, or of `host/path` for proxy-style requests. */
  stats(path: string): Stats;
  /** Every request line and header seen (to check what was sent). */
  seen: string[];
  /** Most requests open at once over the whole server. */
  maxOpenAll(): number;
  /** Lets every response held by `holdAfter` go on. */
  release(): void;
  close(): Promise<void>;
}

export function makeData(size: number, seed = 'x'): { data: Buffer; sha256: string } {
  // Deterministic per seed, cheap to build.
  const block = createHash('sha512').update(seed).digest();
  const data = Buffer.alloc(size);
  const noise = randomBytes(Math.min(size, 4096));
  for (let i = 0; i < size; i += block.length) block.copy(data, i);
  noise.copy(data, 0);
  return { data, sha256: createHash('sha256').update(data).digest('hex') };
}

const etagOf = (data: Buffer): string => `"${createHash('sha1').update(data).digest('hex').slice(0, 16)}"`;

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const stats = new Map<string, Stats>();
  const openNow = new Map<Stats, number>();
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // A barrier stays down once it has opened: see Route.barrier.
  const barriers = new Map<string, { open: number; down: boolean; waiting: (() => void)[] }>();
  let held: (() => void)[] = [];
  let released = false;
  let openAll = 0;
  let maxAll = 0;

  const statsOf = (key: string): Stats => {
    let s = stats.get(key);
    if (!s) {
      s = { requests: 0, bytes: 0, ranges: [], ifRange: [], authorization: [], maxOpen: 0 };
      stats.set(key, s);
    }
    return s;
  };
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const server = http.createServer((req, res) => {
    const proxied = /^https?:\/\//.test(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
    // A route may be keyed with its query string (a page of a paginated API), else by path.
    const route = routes.get(`${path}${url.search}`) ?? routes.get(path);
    // Proxy-style requests count under host/path too, so a test sees which host got what.
    const all = proxied ? [statsOf(path), statsOf(`${url.host}${path}`)] : [statsOf(path)];
    const [st] = all as [Stats];
    for (const s of all) {
      s.requests++;
      s.authorization.push(req.headers.authorization);
      if (req.headers.range) s.ranges.push(req.headers.range);
      s.ifRange.push(req.headers['if-range'] as string | undefined);
    }
    openAll++;
    maxAll = Math.max(maxAll, openAll);
    const nowOpen = (openNow.get(st) ?? 0) + 1;
    openNow.set(st, nowOpen);
    st.maxOpen = Math.max(st.maxOpen, nowOpen);
    res.on('close', () => {
      openAll--;
      openNow.set(st, (openNow.get(st) ?? 1) - 1);
    });
    const count = (n: number) => {
      for (const s of all) s.bytes += n;
    };

    if (!route) return void res.writeHead(404).end('not found');
    const extra = route.headers ?? {};
    if (route.token !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return void res.writeHead(401, { 'WWW-Authenticate': 'Bearer', ...extra }).end('unauthorized');
      if (auth !== `Bearer ${route.token}`) return void res.writeHead(403, extra).end('forbidden');
    }
    if (route.status) return void res.writeHead(route.status, extra).end(`status ${route.status}`);
    if (route.fail500 && route.fail500 > 0) {
      route.fail500--;
      return void res.writeHead(route.failStatus ?? 500, { 'Retry-After': '0', ...extra }).end('boom');
    }
    if (route.redirect) return void res.writeHead(302, { Location: route.redirect, ...extra }).end();
    if (route.json !== undefined) {
      const body = Buffer.from(JSON.stringify(route.json));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...extra });
      count(body.length);
      return void res.end(body);
    }
    let data = route.data ?? Buffer.alloc(0);
    if (route.corrupt) data = Buffer.from(data.map((b) => b ^ 0xff));
    const size = data.length;

    if (route.noLength) {
      // Raw response: the body ends when the connection closes.
      const body = data.subarray(0, route.truncateAt ?? size);
      const sock = req.socket;
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: ${route.contentType ?? 'application/octet-stream'}\r\nConnection: close\r\n\r\n`);
      count(body.length);
      sock.end(body);
      return;
    }

    const validator = route.etag === undefined ? etagOf(data) : route.etag;
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': route.contentType ?? 'application/octet-stream', ...extra };
    if (!route.noRange) headers['Accept-Ranges'] = 'bytes';
    if (validator) headers.ETag = validator;
    if (route.lastModified) headers['Last-Modified'] = route.lastModified;
    let start = 0;
    let last = size - 1;
    let status = 200;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const rangeValid = ifRange === undefined || ifRange === validator || ifRange === route.lastModified;
    if (m && !route.noRange && rangeValid) {
      start = Number(m[1]);
      if (m[2]) last = Math.min(size - 1, Number(m[2]));
      if (start >= size || start > last) {
        return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${last}/${size}`;
    }
    headers['Content-Length'] = last + 1 - start;
    res.writeHead(status, headers);
    let end = last + 1;
    let drop = false;
    if (route.dropAfter !== undefined && (route.dropTimes ?? 1) > 0) {
      route.dropTimes = (route.dropTimes ?? 1) - 1;
      end = Math.min(end, start + route.dropAfter);
      drop = true;
    }
    if (route.dropEvery !== undefined && start + route.dropEvery < end) {
      end = start + route.dropEvery;
      drop = true;
    }
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    // A drop closes the socket once every byte before the cut is with the
    // kernel (which still delivers them): the client gets exactly `end - start` bytes.
    let written = 0;
    let flushed = 0;
    let finishing = false;
    const cut = () => {
      if (finishing && flushed === written) later(20, () => res.socket?.destroy());
    };
    const finish = () => {
      if (!drop) return void res.end();
      finishing = true;
      cut();
    };
    const rate = route.trickle ? (route.trickle.bytes * 1000) / route.trickle.everyMs : route.rate;
    const holdAt = route.holdStart === start ? start : route.holdAfter;
    const tickMs = route.trickle?.everyMs ?? 10;
    let pos = start;
    let t0 = Date.now();
    let holding = false;
    const send = (upto: number) => {
      if (upto <= pos) return;
      const chunk = data.subarray(pos, upto);
      count(chunk.length);
      pos = upto;
      written++;
      res.write(chunk, () => {
        flushed++;
        cut();
      });
    };
    const tick = () => {
      if (closed) return;
      let upto = end;
      if (rate) upto = Math.min(end, Math.max(pos, start + Math.floor((rate * (Date.now() - t0)) / 1000)));
      if (holdAt !== undefined && !released && !holding) {
        const cap = Math.max(start, holdAt);
        if (upto >= cap && pos <= cap) {
          send(Math.min(upto, cap));
          res.flushHeaders(); // the client has its answer; the body waits
          holding = true;
          held.push(() => {
            t0 = Date.now() - ((pos - start) * 1000) / (rate || 1);
            tick();
          });
          return;
        }
      }
      send(upto);
      if (pos >= end) return finish();
      later(tickMs, tick);
    };
    const go = () => (rate || holdAt !== undefined ? tick() : (send(end), finish()));
    if (route.barrier) {
      const b = barriers.get(route.barrier.key) ?? { open: 0, down: false, waiting: [] };
      barriers.set(route.barrier.key, b);
      if (!b.down) {
        res.flushHeaders(); // the client has its answer; only the body waits
        b.open++;
        res.on('close', () => {
          b.open--;
        });
        b.waiting.push(go);
        if (b.open >= route.barrier.n) {
          b.down = true;
          for (const w of b.waiting.splice(0)) w();
        }
        return;
      }
    }
    go();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    routes,
    stats: statsOf,
    seen,
    maxOpenAll: () => maxAll,
    release: () => {
      released = true;
      const h = held;
      held = [];
      for (const fn of h) fn();
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
