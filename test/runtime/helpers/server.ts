// A local HTTP server for the runtime tests: ranges, per-connection
// throttling, bearer auth, redirects and fault injection. Listens on
// 127.0.0.1 port 0 only; close() ends every open connection.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export interface Route {
  /** Body to serve (files). */
  data?: Buffer;
  /** JSON to serve (fake APIs). */
  json?: unknown;
  /** Bytes per second for each connection (throttling). */
  rate?: number;
  /** Required "Authorization: Bearer <token>" (401 without, 403 when wrong). */
  token?: string;
  /** Close the socket after this many body bytes (the next `dropTimes` requests). */
  dropAfter?: number;
  dropTimes?: number;
  /** Answer 500 to this many requests first. */
  fail500?: number;
  /** Always answer this status. */
  status?: number;
  /** Serve different bytes than `data` (same length). */
  corrupt?: boolean;
  /** Ignore Range headers (always 200 with the whole body). */
  noRange?: boolean;
  /** 302 to this path (same server). */
  redirect?: string;
}

export interface Stats {
  requests: number;
  /** Body bytes written to sockets. */
  bytes: number;
  ranges: string[];
  authorization: (string | undefined)[];
}

export interface TestServer {
  base: string;
  routes: Map<string, Route>;
  stats(path: string): Stats;
  /** Every request line and header seen (to check what was sent). */
  seen: string[];
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

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const stats = new Map<string, Stats>();
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const statsOf = (path: string): Stats => {
    let s = stats.get(path);
    if (!s) {
      s = { requests: 0, bytes: 0, ranges: [], authorization: [] };
      stats.set(path, s);
    }
    return s;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
    const route = routes.get(path);
    const st = statsOf(path);
    st.requests++;
    st.authorization.push(req.headers.authorization);
    if (req.headers.range) st.ranges.push(req.headers.range);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    if (route.token !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return void res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end('unauthorized');
      if (auth !== `Bearer ${route.token}`) return void res.writeHead(403).end('forbidden');
    }
    if (route.status) return void res.writeHead(route.status).end(`status ${route.status}`);
    if (route.fail500 && route.fail500 > 0) {
      route.fail500--;
      return void res.writeHead(500).end('boom');
    }
    if (route.redirect) return void res.writeHead(302, { Location: route.redirect }).end();
    if (route.json !== undefined) {
      const body = Buffer.from(JSON.stringify(route.json));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      st.bytes += body.length;
      return void res.end(body);
    }
    let data = route.data ?? Buffer.alloc(0);
    if (route.corrupt) data = Buffer.from(data.map((b) => b ^ 0xff));
    const size = data.length;
    let start = 0;
    let status = 200;
    const headers: http.OutgoingHttpHeaders = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !route.noRange) {
      start = Number(m[1]);
      if (start >= size) {
        return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${size - 1}/${size}`;
    }
    headers['Content-Length'] = size - start;
    res.writeHead(status, headers);
    let end = size;
    let drop = false;
    if (route.dropAfter !== undefined && (route.dropTimes ?? 1) > 0) {
      route.dropTimes = (route.dropTimes ?? 1) - 1;
      end = Math.min(size, start + route.dropAfter);
      drop = true;
    }
    const finish = () => {
      if (drop) res.socket?.destroy();
      else res.end();
    };
    if (!route.rate) {
      const chunk = data.subarray(start, end);
      st.bytes += chunk.length;
      if (drop) res.write(chunk, () => setTimeout(finish, 20));
      else res.end(chunk);
      return;
    }
    const rate = route.rate;
    const t0 = Date.now();
    let pos = start;
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const tick = () => {
      if (closed) return;
      const allowed = start + Math.floor((rate * (Date.now() - t0)) / 1000);
      const upto = Math.min(end, Math.max(pos, allowed));
      if (upto > pos) {
        const chunk = data.subarray(pos, upto);
        st.bytes += chunk.length;
        pos = upto;
        res.write(chunk);
      }
      if (pos >= end) return finish();
      const timer = setTimeout(() => {
        timers.delete(timer);
        tick();
      }, 10);
      timers.add(timer);
    };
    tick();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    routes,
    stats: statsOf,
    seen,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
