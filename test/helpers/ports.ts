/**
 * Loopback ports for servers a test does not start itself (start.sh's fake
 * ComfyUI and status endpoint bind them seconds later, in another process).
 *
 * "Bind port 0, note it, close" is a race: until the child binds, the kernel
 * may hand the same port to any other listen(0) or outgoing connection of the
 * suite (seen: the status endpoint died with EADDRINUSE in 1 of 10 fresh-clone
 * runs). So ports come from below the kernel's ephemeral range, which it never
 * hands out on its own, and each is reserved across the suite's worker
 * processes by an exclusive file naming the owner's pid.
 */
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../src/io/pid.ts';

const DIR = join(tmpdir(), 'kiln-test-ports');
/** Lowest port handed out: clear of well-known services' 1-10000. */
const FIRST = 20_000;
const mine = new Set<number>();

/** First port of the kernel's ephemeral range (Linux: ip_local_port_range; IANA's 49152 otherwise). */
export function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 49_152;
  }
}

/** Takes the port's reservation file, or a dead owner's; false when another process holds it. */
function claim(port: number): boolean {
  const file = join(DIR, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // A file left by a dead owner is taken over under a lock, never removed: removing it would let
  // a plain create and a takeover both win. An empty file is being written (create, then write).
  const lock = `${file}.lock`;
  try {
    mkdirSync(lock);
  } catch {
    return false;
  }
  try {
    const owner = Number(readFileSync(file, 'utf8'));
    if (!owner || pidAlive(owner)) return false;
    writeFileSync(file, String(process.pid));
    return true;
  } finally {
    rmdirSync(lock);
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A loopback port no other test process holds and the kernel will not give
 * away; held until this process exits.
 */
export async function reservePort(): Promise<number> {
  mkdirSync(DIR, { recursive: true });
  const last = ephemeralLow() - 1;
  const span = last - FIRST + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = FIRST + ((start + i) % span);
    if (mine.has(port) || !claim(port)) continue;
    // Something outside the suite (a service of the machine) may listen there.
    if (await bindable(port)) {
      mine.add(port);
      return port;
    }
    rmSync(join(DIR, String(port)), { force: true });
  }
  throw new Error(`no loopback port free in ${FIRST}-${last}`);
}

process.once('exit', () => {
  for (const port of mine) rmSync(join(DIR, String(port)), { force: true });
});
