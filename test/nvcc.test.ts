/** Each GPU profile's gencode really compiles device code (nvcc needs no GPU for that). */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { loadProject } from '../src/dsl/load.ts';
import { nvccGencode } from '../src/graph/stages.ts';
import { repoRoot } from './helpers/fixtures.ts';

const nvcc = await execa('nvcc', ['--version'], { reject: false, timeout: 20_000 });
const available = nvcc.exitCode === 0;
const gpus = (await loadProject(repoRoot)).gpus.map((g) => g.def);

test('gencode strings follow the profiles', (t) => {
  t.deepEqual(
    gpus.map((g) => [g.name, nvccGencode(g)]),
    [
      ['rtx4090', 'arch=compute_89,code=sm_89'],
      ['rtx5090', 'arch=compute_120,code=sm_120'],
    ],
  );
});

for (const gpu of gpus) {
  const title = `nvcc compiles a probe kernel for ${gpu.name} (${nvccGencode(gpu)})`;
  if (!available) {
    test.skip(`${title} (skipped: no nvcc on PATH)`, () => {});
    continue;
  }
  test(title, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-nvcc-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'probe.cu'), '__global__ void probe(float *x) { x[threadIdx.x] *= 2.0f; }\n');
    const r = await execa('nvcc', ['-gencode', nvccGencode(gpu), '-c', 'probe.cu', '-o', 'probe.o'], { cwd: dir, reject: false, timeout: 120_000 });
    t.is(r.exitCode, 0, r.stderr);
    t.true(statSync(join(dir, 'probe.o')).size > 0);
    t.log(`${nvcc.stdout.split('\n').at(-1)}: ${gpu.name} ok`);
  });
}
