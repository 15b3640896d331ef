// The runtime tests' HTTP server keeps the promises its controls make:
// a test that relies on a control must not hang because of it.
import test from 'ava';
import { withServer } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';

test('a barrier, once down, holds no later request: one that comes alone (a retry, a free connection\'s steal) gets its body', async (t) => {
  const srv = await withServer(t);
  const d = makeData(1000, 'latch');
  srv.routes.set('/l.bin', { data: d.data, barrier: { key: 'l', n: 2 } });
  // The bound only ends a hang; a body held for good never arrives however long one waits.
  const get = async (): Promise<Buffer> => {
    try {
      const res = await fetch(`${srv.base}/l.bin`, { signal: AbortSignal.timeout(60_000) });
      return Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw new Error(`no body after 60 s: held at the barrier (${(e as Error).name})`);
    }
  };
  // Two requests open at once bring the barrier down: both bodies come.
  const [a, b] = await Promise.all([get(), get()]);
  t.true(a.equals(d.data) && b.equals(d.data));
  // Both answers are complete: the third request is the only one open.
  t.true((await get()).equals(d.data), 'a request that comes after the barrier went down is served alone');
  t.is(srv.stats('/l.bin').requests, 3);
});
