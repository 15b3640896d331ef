/**
 * Unit tests of the engine harness parsers, on recorded buildx 0.13 rawjson
 * streams (test/fixtures/engine-smoke/rawjson/) and shim-log lines. No engine
 * needed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import {
  REPO_ROOT,
  countByTarget,
  findStep,
  parseRawjson,
  parseShimLog,
  splitRawjson,
  uncachedSteps,
  unquoteShellWord,
} from './harness.ts';

const raw = (name: string) => readFileSync(path.join(REPO_ROOT, 'test/fixtures/engine-smoke/rawjson', name), 'utf8');

test('rawjson: a first build of three chained targets, steps attributed to their Dockerfile', t => {
  const p = parseRawjson(raw('first-build.rawjson'));
  t.true(p.messages > 100);
  t.deepEqual(p.text, []);
  const counts = countByTarget(p.steps);
  t.deepEqual(
    Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, [v.executed, v.cached]])),
    { common: [5, 0], wheels: [4, 0], app: [3, 0] },
  );
  const wheel = findStep(p.steps, 'pip wheel .')!;
  t.is(wheel.target, 'wheels');
  t.deepEqual(wheel.targets, ['app', 'wheels']);
  t.deepEqual(wheel.index, [3, 5]);
  t.is(wheel.kind, 'step');
  t.truthy(wheel.started && wheel.completed);
  t.is(findStep(p.steps, /^FROM /)!.kind, 'from');
  t.is(findStep(p.steps, '--mount=type=bind')!.stage, 'stage-0');
  t.deepEqual(
    p.steps.filter(s => s.kind === 'export').map(s => s.target).sort(),
    ['app', 'common', 'wheels'],
  );
});

test('rawjson: a cached rebuild has no uncached step', t => {
  const p = parseRawjson(raw('cached-rebuild.rawjson'));
  t.deepEqual(uncachedSteps(p.steps), []);
  t.is(p.steps.filter(s => s.kind === 'step' && s.cached).length, 12);
});

test('rawjson: a failed single-target build keeps the error and the text lines', t => {
  const p = parseRawjson(raw('failed-single-target.rawjson'), { defaultTarget: 'bad' });
  const failed = p.steps.filter(s => s.error);
  t.is(failed.length, 1);
  t.is(failed[0]!.target, 'bad');
  t.regex(failed[0]!.name, /pip install --no-deps \/tmp\/w\/\*\.whl/);
  t.regex(failed[0]!.logs, /looks like a filename, but the file does not exist/);
  t.true(p.text.some(l => l.startsWith('ERROR: failed to solve')));
});

test('rawjson: one-object-per-line streams parse too', t => {
  const line = JSON.stringify({ vertexes: [{ digest: 'sha256:a', name: '[x 1/1] RUN true', cached: true }] });
  const { objects, text } = splitRawjson(`${line}\nnot json\n`);
  t.is(objects.length, 1);
  t.deepEqual(text, ['not json']);
});

test('shim log: fields and %q unquoting', t => {
  const lines = [
    "pip\t/src/sage\tMAX_JOBS=2 NVCC_APPEND_FLAGS=-Xfatbin\\ -compress-all TORCH_CUDA_ARCH_LIST=8.9\\;12.0\twheel\t.\t-w\t/wheels",
    "curl\t/\tHF_TOKEN=hf_x\t-H\tAuthorization:\\ Bearer\\ x\t''\t$'a\\tb'",
    'apt-get\t/tmp\t\tupdate',
    'ninja\t/\t',
  ].join('\n');
  const calls = parseShimLog(`${lines}\n`);
  t.deepEqual(calls[0], {
    tool: 'pip',
    cwd: '/src/sage',
    env: { MAX_JOBS: '2', NVCC_APPEND_FLAGS: '-Xfatbin -compress-all', TORCH_CUDA_ARCH_LIST: '8.9;12.0' },
    argv: ['wheel', '.', '-w', '/wheels'],
  });
  t.deepEqual(calls[1]!.env, { HF_TOKEN: 'hf_x' });
  t.deepEqual(calls[1]!.argv, ['-H', 'Authorization: Bearer x', '', 'a\tb']);
  t.deepEqual(calls[2], { tool: 'apt-get', cwd: '/tmp', env: {}, argv: ['update'] });
  t.deepEqual(calls[3], { tool: 'ninja', cwd: '/', env: {}, argv: [] });
  t.is(unquoteShellWord("$'\\x41\\101\\n'"), 'AA\n');
});
