/**
 * tools/engine.sh's startup wait, on its own (sourced: functions only). A
 * process the script has just started keeps the shell's command line until it
 * execs; the wait must not take that for "exited" (it once failed `up` with
 * "registry exited during startup" while the registry was starting fine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from './helpers/fixtures.ts';

/**
 * Starts a child that execs `sleep 30` (argv[0] = the needle) after `execAfter`
 * seconds, or exits with 3 instead when `exitInstead`; "ready" comes at `readyAfter`.
 * Then runs wait_for on it and reports its exit code and output, and kills the
 * child by its pid.
 */
async function waitFor(o: { execAfter: number; readyAfter: number; exitInstead?: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-engine-sh-'));
  const script = `
    set -euo pipefail
    source tools/engine.sh
    TIMEOUT=10
    needle="$DIR/needle"
    ready() { [[ -e "$DIR/ready" ]]; }
    ( sleep ${o.readyAfter}; touch "$DIR/ready" ) </dev/null >/dev/null 2>&1 &
    N="$needle" bash -c 'sleep ${o.execAfter}; ${o.exitInstead ? 'exit 3' : 'exec -a "$N" sleep 30'}' </dev/null >/dev/null 2>&1 &
    echo $! >"$DIR/pid"
    trap 'kill "$(<"$DIR/pid")" 2>/dev/null || true' EXIT
    wait_for child ready "$DIR/pid" "$needle" "$DIR/log"
    echo "ready: $(tr '\\0' ' ' <"/proc/$(<"$DIR/pid")/cmdline")"
  `;
  try {
    return await execa('bash', ['-c', script], { cwd: repoRoot, env: { DIR: dir }, reject: false, timeout: 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('engine.sh wait_for: a child that has not exec-ed yet is starting, not dead', async (t) => {
  const r = await waitFor({ execAfter: 1, readyAfter: 2 });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^ready: \/.*\/needle 30/m);
});

test('engine.sh wait_for: a child that exits before it is ready still fails at once, naming it', async (t) => {
  const t0 = Date.now();
  const r = await waitFor({ execAfter: 0.5, readyAfter: 20, exitInstead: true });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /engine: ERROR: child exited during startup/);
  t.true(Date.now() - t0 < 8_000, 'not only at the timeout');
});
