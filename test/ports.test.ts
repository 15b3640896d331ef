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

const script = `
import { reservePort } from './test/helpers/ports.ts';
const out = [];
for (let i = 0; i < 150; i++) out.push(await reservePort());
console.log(JSON.stringify(out));
`;

test('two processes reserving 150 ports each at once: no port twice, none in the ephemeral range', async (t) => {
  const run = () =>
    execa('node', ['--import=tsx', '--input-type=module', '-e', script], { cwd: repoRoot, timeout: 60_000 });
  const [a, b] = await Promise.all([run(), run()]);
  const ports = [...(JSON.parse(a.stdout) as number[]), ...(JSON.parse(b.stdout) as number[])];
  t.is(new Set(ports).size, 300, 'every port reserved once');
  const low = ephemeralLow();
  t.deepEqual(ports.filter((p) => p >= low), [], `no port at or above ${low}`);
});

test('a process never gets a port it already holds', async (t) => {
  const ports = await Promise.all(Array.from({ length: 50 }, () => reservePort()));
  t.is(new Set(ports).size, 50);
});
