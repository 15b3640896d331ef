/**
 * reservePort (test/helpers/ports.ts): the ports runtime tests hand to
 * start.sh's servers. Two worker processes reserving at once must never get
 * the same port, and none may lie in the range the kernel hands out to
 * listen(0) and outgoing connections.
 */
import test from 'ava';
import { execa } from 'execa';
import { ephemeralLow, reservePort } from './helpers/ports.ts';
import { repoRoot } from './helpers/fixtures.ts';

// Prints its ports, then holds them (reservations end with the process) until its stdin closes.
const script = `
import { reservePort } from './test/helpers/ports.ts';
const out = [];
for (let i = 0; i < 150; i++) out.push(await reservePort());
console.log(JSON.stringify(out));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

test('two processes reserving 150 ports each at once: no port twice, none in the ephemeral range', async (t) => {
  const children = [0, 1].map(() =>
    execa('node', ['--import=tsx', '--input-type=module', '-e', script], { cwd: repoRoot, timeout: 60_000, stdin: 'pipe' }),
  );
  // Both lists are read while both processes still hold every port they got.
  const lists = await Promise.all(
    children.map(
      (c) =>
        new Promise<number[]>((resolve, reject) => {
          let buf = '';
          c.stdout!.on('data', (d: Buffer) => {
            buf += d.toString();
            if (buf.includes('\n')) resolve(JSON.parse(buf) as number[]);
          });
          c.catch(reject);
        }),
    ),
  );
  for (const c of children) c.stdin!.end();
  await Promise.all(children);
  const ports = lists.flat();
  t.is(new Set(ports).size, 300, 'every port reserved once');
  const low = ephemeralLow();
  t.deepEqual(ports.filter((p) => p >= low), [], `no port at or above ${low}`);
});

test('a process never gets a port it already holds', async (t) => {
  const ports = await Promise.all(Array.from({ length: 50 }, () => reservePort()));
  t.is(new Set(ports).size, 50);
});
