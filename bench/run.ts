/**
 * `npm run bench`: prints figures, asserts nothing.
 *  1. generation time for 100 synthetic templates x 2 GPUs (target < 1 s);
 *  2. per standard scenario, rebuild minutes of (a) Kiln's graph, (b) the
 *     seed-style linear Dockerfile per image, (c) the limit; ratios;
 *  3. the layout decision: runtime apt above torch vs all apt in base-common;
 *  4. heavy compiles in a cold build of M = 1, 5, 20 templates;
 *  5. the two chains: image sizes and build minutes of the old layout (final
 *     images on cudnn-devel, pip) against the new (CUDA `base`, uv).
 * Minutes come from the cost model (src/graph/layer-kinds.ts), not from builds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadProject, type Project } from '../src/dsl/load.ts';
import { synth } from '../src/emit/synth.ts';
import { resolveGraph } from '../src/graph/resolve.ts';
import { templateSizes } from '../src/graph/sizes.ts';
import { writeGenerated } from '../src/io/output.ts';
import { Testing } from '../src/testing.ts';
import { kilnSteps } from './kiln-model.ts';
import { limitSteps } from './limit-model.ts';
import { linearSteps } from './linear-model.ts';
import { SCENARIOS } from './scenarios.ts';
import { syntheticProject } from './synthetic.ts';
import { heavyCount, limitWork, newWork, type Step } from './work.ts';

const root = join(fileURLToPath(import.meta.url), '..', '..');
// Two decimals: the smallest scenarios (a start.sh edit) differ by one 0.02-minute COPY.
const f2 = (n: number) => n.toFixed(2);
const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? '1.00' : 'inf') : (a / b).toFixed(2));

function models(p: Project): { a: Step[]; b: Step[]; seed: Step[]; c: Step[] } {
  const g = resolveGraph(p);
  return { a: kilnSteps(g), b: linearSteps(p), seed: linearSteps(p, true), c: limitSteps(g) };
}

async function generationTime(): Promise<void> {
  const project = syntheticProject(100);
  const out = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
  const runs: number[] = [];
  let files = 0;
  try {
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const generated = synth(resolveGraph(project));
      writeGenerated(out, generated);
      runs.push(performance.now() - t0);
      files = generated.size;
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  runs.sort((x, y) => x - y);
  console.log('## Generation: 100 synthetic templates x 2 GPUs (validate + resolve + render + write)');
  console.log(`files: ${files}; runs (ms): ${runs.map((r) => r.toFixed(0)).join(', ')}; median ${runs[2]!.toFixed(0)} ms (target < 1000 ms)\n`);
}

async function scenarios(): Promise<void> {
  const before = models(await loadProject(root));
  console.log('## Rebuild minutes per scenario, all templates x GPUs (cost model; each distinct step once)');
  console.log('(a) Kiln graph  (b) seed-style linear Dockerfile per image, kernels only where enabled  (c) limit: own inputs + true dependents');
  console.log("(b') the seed literally: every image builds llama-server, Sage and Flash\n");
  console.log(`${'scenario'.padEnd(15)} ${'(a) kiln'.padStart(9)} ${'(b) linear'.padStart(10)} ${'(c) limit'.padStart(9)} ${'b/a'.padStart(6)} ${'a/c'.padStart(6)} ${"(b') seed".padStart(10)} ${"b'/a".padStart(6)}`);
  const total = { a: 0, b: 0, seed: 0, c: 0 };
  const worse: string[] = [];
  for (const s of SCENARIOS) {
    const copy = Testing.copyProject(root);
    try {
      s.apply(copy.root);
      const after = models(await loadProject(copy.root));
      const a = newWork(before.a, after.a).minutes;
      const b = newWork(before.b, after.b).minutes;
      const c = limitWork(before.c, after.c).minutes;
      const seed = newWork(before.seed, after.seed).minutes;
      total.a += a;
      total.b += b;
      total.seed += seed;
      total.c += c;
      // A tolerance far below any step's cost, so float noise in sums never reads as a loss.
      if (a > b + 1e-9) worse.push(`${s.name} (${f2(a)} vs ${f2(b)})`);
      console.log(`${s.name.padEnd(15)} ${f2(a).padStart(9)} ${f2(b).padStart(10)} ${f2(c).padStart(9)} ${ratio(b, a).padStart(6)} ${ratio(a, c).padStart(6)} ${f2(seed).padStart(10)} ${ratio(seed, a).padStart(6)}`);
    } finally {
      copy.cleanup();
    }
  }
  console.log(`${'total'.padEnd(15)} ${f2(total.a).padStart(9)} ${f2(total.b).padStart(10)} ${f2(total.c).padStart(9)} ${ratio(total.b, total.a).padStart(6)} ${ratio(total.a, total.c).padStart(6)} ${f2(total.seed).padStart(10)} ${ratio(total.seed, total.a).padStart(6)}`);
  console.log(`never worse than (b): ${worse.length === 0 ? 'yes, in every scenario' : `no: ${worse.join(', ')}`}`);
  console.log('targets: b/a >= 2 in total and >= 4 for apt-package; a/c <= 1.3 in total\n');
}

async function layoutDecision(): Promise<void> {
  const p = await loadProject(root);
  const base = p.bases[0]!;
  // DESIGN's first sketch: every apt package in base-common, under torch and the kernel builders.
  const allInCommon = (extra: string[]): Project => ({
    ...p,
    bases: [{ ...base, def: { ...base.def, toolchainApt: [...base.def.toolchainApt, ...base.def.apt, ...extra], apt: [] } }],
  });
  const split = (extra: string[]): Project => ({ ...p, bases: [{ ...base, def: { ...base.def, apt: [...base.def.apt, ...extra] } }] });
  console.log('## Layout decision: where the runtime apt set lives (scenario: add one runtime apt package)');
  for (const [name, make] of [
    ['all apt in base-common (under torch, Sage, Flash)', allInCommon],
    ['runtime apt in base-<gpu> (Kiln)', split],
  ] as const) {
    const b = kilnSteps(resolveGraph(make([])));
    const a = kilnSteps(resolveGraph(make(['htop'])));
    const cold = newWork([], b).minutes;
    console.log(`${name.padEnd(52)} apt edit: ${f2(newWork(b, a).minutes).padStart(6)} min   cold build: ${f2(cold).padStart(6)} min`);
  }
  console.log('');
}

function coldHeavy(): void {
  console.log('## Heavy compiles (Sage/Flash/llama builds) in a cold build of M templates x 2 GPUs');
  console.log(`${'M'.padStart(3)} ${'kiln'.padStart(6)} ${'linear'.padStart(7)} ${'seed'.padStart(6)} ${'(kernel,GPU) pairs'.padStart(19)}`);
  for (const m of [1, 5, 20]) {
    const p = syntheticProject(m);
    const g = resolveGraph(p);
    const pairs = new Set(g.targets.filter((t) => ['sage', 'flash', 'llama'].includes(t.kind)).map((t) => t.name)).size;
    console.log(`${String(m).padStart(3)} ${String(heavyCount(kilnSteps(g))).padStart(6)} ${String(heavyCount(linearSteps(p))).padStart(7)} ${String(heavyCount(linearSteps(p, true))).padStart(6)} ${String(pairs).padStart(19)}`);
  }
}

/**
 * The layout before the two chains, expressed with today's code: every image on the cudnn-devel
 * flavour, Python installed by pip. (Today's builders are FROM the devel base with torch's venv
 * bind-mounted, where the old ones were FROM torch: the old side gets the devel base's apt layer,
 * 2 model-minutes, that it did not have; llama.cpp's own apt layer was 1.5.)
 */
function oldLayout(p: Project): Project {
  const base = p.bases[0]!;
  const { uv: _uv, ...def } = base.def;
  return { ...p, bases: [{ ...base, def: { ...def, imageFlavor: 'cudnn-devel-ubuntu24.04', develFlavor: 'cudnn-devel-ubuntu24.04' } }] };
}

async function twoChains(): Promise<void> {
  const p = await loadProject(root);
  const [oldG, newG] = [resolveGraph(oldLayout(p)), resolveGraph(p)];
  const [oldS, newS] = [templateSizes(oldG), templateSizes(newG)];
  const gb = (mb: number) => (mb / 1000).toFixed(1);
  console.log('## Two chains: final images on nvidia/cuda base + uv (new) vs cudnn-devel + pip (old)');
  console.log('size model (GB; src/graph/layer-kinds.ts, src/facts/cuda-images.ts; estimates with sources)\n');
  console.log(`${'image'.padEnd(20)} ${'pull old'.padStart(9)} ${'pull new'.padStart(9)} ${'new/old'.padStart(8)} ${'disk old'.padStart(9)} ${'disk new'.padStart(9)} ${'new/old'.padStart(8)}`);
  const total = { oldPull: 0, newPull: 0, oldDisk: 0, newDisk: 0 };
  for (const name of Object.keys(newS).sort()) {
    const o = oldS[name]!;
    const n = newS[name]!;
    total.oldPull += o.pullMB;
    total.newPull += n.pullMB;
    total.oldDisk += o.diskMB;
    total.newDisk += n.diskMB;
    console.log(`${name.padEnd(20)} ${gb(o.pullMB).padStart(9)} ${gb(n.pullMB).padStart(9)} ${ratio(n.pullMB, o.pullMB).padStart(8)} ${gb(o.diskMB).padStart(9)} ${gb(n.diskMB).padStart(9)} ${ratio(n.diskMB, o.diskMB).padStart(8)}`);
  }
  console.log(`${'total'.padEnd(20)} ${gb(total.oldPull).padStart(9)} ${gb(total.newPull).padStart(9)} ${ratio(total.newPull, total.oldPull).padStart(8)} ${gb(total.oldDisk).padStart(9)} ${gb(total.newDisk).padStart(9)} ${ratio(total.newDisk, total.oldDisk).padStart(8)}`);
  console.log('target: new <= 0.65 x old in total\n');

  console.log('build minutes (cost model; each distinct step once)');
  console.log(`${'scenario'.padEnd(15)} ${'old'.padStart(8)} ${'new'.padStart(8)} ${'new/old'.padStart(8)}`);
  const cold = { old: newWork([], kilnSteps(oldG)).minutes, new: newWork([], kilnSteps(newG)).minutes };
  console.log(`${'cold build'.padEnd(15)} ${f2(cold.old).padStart(8)} ${f2(cold.new).padStart(8)} ${ratio(cold.new, cold.old).padStart(8)}`);
  const sum = { old: 0, new: 0 };
  let worst = 0;
  for (const s of SCENARIOS) {
    const copy = Testing.copyProject(root);
    try {
      s.apply(copy.root);
      const after = await loadProject(copy.root);
      const o = newWork(kilnSteps(oldG), kilnSteps(resolveGraph(oldLayout(after)))).minutes;
      const n = newWork(kilnSteps(newG), kilnSteps(resolveGraph(after))).minutes;
      sum.old += o;
      sum.new += n;
      worst = Math.max(worst, o === 0 ? (n === 0 ? 1 : Infinity) : n / o);
      console.log(`${s.name.padEnd(15)} ${f2(o).padStart(8)} ${f2(n).padStart(8)} ${ratio(n, o).padStart(8)}`);
    } finally {
      copy.cleanup();
    }
  }
  console.log(`${'scenarios'.padEnd(15)} ${f2(sum.old).padStart(8)} ${f2(sum.new).padStart(8)} ${ratio(sum.new, sum.old).padStart(8)}`);
  console.log(`worst scenario new/old: ${worst.toFixed(2)} (target: no scenario worse by more than 10%, total better)\n`);
}

await generationTime();
await scenarios();
await layoutDecision();
coldHeavy();
console.log('');
await twoChains();
