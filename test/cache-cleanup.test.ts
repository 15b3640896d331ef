/**
 * cache-cleanup.yml's script, run as the workflow runs it (bash -eo pipefail,
 * its env), against a stand-in `gh` that serves package versions from a file
 * and logs every call. jq is the real one (preinstalled on GitHub's runners).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { runScripts, readWorkflow } from './helpers/workflows.ts';

const script = runScripts('.github/workflows/cache-cleanup.yml', readWorkflow('cache-cleanup.yml'))[0]!.script;
const jqProbe = execa('jq', ['--version'], { reject: false }).then(
  (r) => r.exitCode === 0,
  () => false,
);

/** Package versions as GET /{orgs|users}/{owner}/packages/container/kiln-cache/versions returns them (two pages). */
const pages = [
  [
    { id: 11, name: `sha256:${'1'.repeat(64)}`, metadata: { package_type: 'container', container: { tags: ['torch-rtx5090--pr-7'] } } },
    { id: 12, name: `sha256:${'2'.repeat(64)}`, metadata: { package_type: 'container', container: { tags: ['torch-rtx5090'] } } },
    // Byte-identical to main's cache: one version with both tags. Deleting it would delete main's.
    { id: 13, name: `sha256:${'3'.repeat(64)}`, metadata: { package_type: 'container', container: { tags: ['base-rtx5090', 'base-rtx5090--pr-7'] } } },
  ],
  [
    { id: 14, name: `sha256:${'4'.repeat(64)}`, metadata: { package_type: 'container', container: { tags: ['sd15-basic-rtx5090--pr-7'] } } },
    { id: 15, name: `sha256:${'5'.repeat(64)}`, metadata: { package_type: 'container', container: { tags: ['sd15-basic-rtx5090--pr-77'] } } },
    { id: 16, name: `sha256:${'6'.repeat(64)}`, metadata: { package_type: 'container', container: { tags: [] } } },
  ],
];

async function run(t: { teardown: (f: () => void) => void }, gh: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cleanup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/gh'), `#!/bin/bash\nprintf '%s\\n' "$*" >> "$GH_LOG"\n${gh}\n`);
  chmodSync(join(dir, 'bin/gh'), 0o755);
  const log = join(dir, 'gh.log');
  writeFileSync(log, '');
  const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    reject: false,
    timeout: 30_000,
    extendEnv: false,
    env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, GH_LOG: log, RUNNER_TEMP: dir, GH_TOKEN: 'ghs_unused', OWNER: 'acme', OWNER_KIND: 'orgs', PR: '7', ...env },
  });
  return { ...r, calls: readFileSync(log, 'utf8').trim().split('\n') };
}

// gh api --paginate prints the pages' arrays one after the other.
const serve = `if [ "$1 $2" = "api --paginate" ]; then cat <<'JSON'\n${pages.map((p) => JSON.stringify(p)).join('')}\nJSON\nfi`;

test('deletes exactly the versions whose every tag is this PR\'s scope (not main\'s, not PR 77\'s, not untagged)', async (t) => {
  if (!(await jqProbe)) {
    t.log('SKIPPED: jq is not installed here (GitHub runners have it)');
    return t.pass();
  }
  const r = await run(t, serve);
  t.is(r.exitCode, 0, r.stderr);
  const path = '/orgs/acme/packages/container/kiln-cache/versions';
  t.deepEqual(r.calls, [`api --paginate ${path}`, `api --method DELETE ${path}/11`, `api --method DELETE ${path}/14`]);
  t.regex(r.stdout, /deleted 2 kiln-cache version\(s\) tagged \*--pr-7/);
  const user = await run(t, serve, { OWNER_KIND: 'users', OWNER: 'someone' });
  t.is(user.calls[0], 'api --paginate /users/someone/packages/container/kiln-cache/versions');
});

test('no kiln-cache package (404): a warning, nothing deleted; any other API error fails the job', async (t) => {
  if (!(await jqProbe)) {
    t.log('SKIPPED: jq is not installed here (GitHub runners have it)');
    return t.pass();
  }
  const missing = await run(t, 'echo "gh: Not Found (HTTP 404)" >&2; exit 1');
  t.is(missing.exitCode, 0, missing.stderr);
  t.regex(missing.stdout, /::warning::no kiln-cache package visible under acme/);
  t.is(missing.calls.length, 1);
  const denied = await run(t, 'echo "gh: Resource not accessible by integration (HTTP 403)" >&2; exit 1');
  t.is(denied.exitCode, 1);
  t.regex(denied.stderr, /HTTP 403/);
  const failedDelete = await run(t, `${serve}\nif [ "$2" = "--method" ]; then echo "HTTP 500" >&2; exit 1; fi`);
  t.is(failedDelete.exitCode, 1, 'a failed DELETE fails the step');
});
