/**
 * `kiln plan` against the real engine: for every standard scenario (a real
 * edit to a copy of the repo), the steps BuildKit re-executes must be
 * exactly the steps the plan predicted. Any difference fails and is printed.
 */
import test from 'ava';
import { SCENARIOS } from '../../bench/scenarios.ts';
import { loadProject } from '../../src/dsl/load.ts';
import { synth, synthIdentities } from '../../src/emit/synth.ts';
import { planChanges } from '../../src/graph/plan.ts';
import { resolveGraph } from '../../src/graph/resolve.ts';
import { writeGenerated } from '../../src/io/output.ts';
import { Testing } from '../../src/testing.ts';
import { bakeEachTarget, executedLayers } from './graph-map.ts';
import { bake, engineAvailable, engineLock, engineTest, prepareStubWorld, pruneBuildCache, REGISTRY, REPO_ROOT, type Step } from './harness.ts';

const engine = await engineAvailable();
const etest = engineTest(test, engine);

function buildOne(root: string, target: string) {
  return bake({
    cwd: root,
    files: ['bake/docker-bake.hcl'],
    targets: [target],
    // cacheonly: this test reads which steps ran, never the image. Unpacking every image into
    // dockerd's containerd store is the step that hit moby/buildkit#6521 here once ("failed to
    // prepare extraction snapshot ... parent snapshot ... does not exist"); the steps and their
    // cache are the same without it.
    set: ['*.cache-to=', '*.cache-from=', '*.output=type=cacheonly'],
    vars: { REGISTRY: `${REGISTRY}/kiln-plan`, TAG: 'plan' },
    timeoutMs: 5 * 60_000,
  });
}

etest('kiln plan predicts exactly the steps BuildKit re-runs, in every scenario', async (t) => {
  const before = Testing.copyProject(REPO_ROOT);
  t.teardown(before.cleanup);
  const graphA = resolveGraph(await loadProject(before.root));
  const rows: string[] = [];
  let mismatches = 0;
  await engineLock(async () => {
    await prepareStubWorld();
    // A builder that built REF itself and nothing else: other engine tests leave records
    // imported from registry cache (graph.test's round trip), after which an untouched
    // flux1-dev-rtx5090 step re-ran once in CI. Then settle target by target (see bakeEachTarget).
    await pruneBuildCache();
    const settle = await bakeEachTarget(graphA, (name) => buildOne(before.root, name));
    t.deepEqual(settle, []);
    // Warm-up: one unchanged rebuild of every target. The first reuse after a cold build is where
    // BuildKit 0.13 re-ran an untouched step that reads another target (COPY --from, RUN --mount
    // from=) of a target no edit touched: in 2 of 3 runs, each time in the first scenario only
    // (flux1-dev-rtx5090/kernel-install:flash + node-copy:ComfyUI-GGUF; llm-prompt-rtx4090/
    // llama-copy + wan-video-rtx4090/kernel-install:sage; README "Known upstream limitation").
    // Counted, not asserted: it measures BuildKit; the scenarios below measure kiln plan.
    const warm: Step[] = [];
    t.deepEqual(await bakeEachTarget(graphA, async (name) => {
      const r = await buildOne(before.root, name);
      warm.push(...r.steps);
      return r;
    }), []);
    const warmRerun = [...executedLayers(graphA, warm).keys.values()];
    t.log(`warm-up (unchanged rebuild): ${warmRerun.length} step(s) re-ran${warmRerun.length ? `: ${warmRerun.join(', ')}` : ''}`);
    const idsA = synthIdentities(graphA);
    for (const scenario of SCENARIOS) {
      const after = Testing.copyProject(REPO_ROOT);
      try {
        scenario.apply(after.root);
        const graphB = resolveGraph(await loadProject(after.root));
        writeGenerated(after.root, synth(graphB));
        const plan = planChanges(graphA, graphB);
        const predicted = new Map(plan.targets.flatMap((p) => p.rerun.map((l) => [l.key, `${p.target}/${l.id}`] as const)));

        // Only targets whose content identity changed: the others hand BuildKit byte-identical
        // builds (same Dockerfile, bake block, copied files and upstream), so building them again
        // tests BuildKit, not the plan. A prediction for one of them still fails as "predicted but CACHED".
        const idsB = synthIdentities(graphB);
        const changed = new Set(graphB.targets.filter((x) => !graphA.targets.some((a) => a.name === x.name) || idsB.of(x.name) !== idsA.of(x.name)).map((x) => x.name));
        // One target per invocation, dependencies first: several targets solved together can
        // miss the cache for a step no edit touched (docker/buildx#414; seen once in CI as a
        // re-run of base-rtx4090/apt during bump-comfyui).
        const steps: Step[] = [];
        const failed = await bakeEachTarget(graphB, async (name) => {
          const r = await buildOne(after.root, name);
          steps.push(...r.steps);
          return r;
        }, (x) => changed.has(x.name));
        t.deepEqual(failed, [], `${scenario.name}: build failed`);
        const observed = executedLayers(graphB, steps);
        t.deepEqual(observed.errors, [], `${scenario.name}: steps that map to no layer`);

        const missed = [...observed.keys].filter(([k]) => !predicted.has(k)).map(([, label]) => label).sort();
        const extra = [...predicted].filter(([k]) => !observed.keys.has(k)).map(([, label]) => label).sort();
        if (missed.length > 0 || extra.length > 0) {
          mismatches++;
          t.log(`${scenario.name}: re-ran but not predicted: ${missed.join(', ') || '-'}; predicted but CACHED: ${extra.join(', ') || '-'}`);
        }
        t.deepEqual(missed, [], `${scenario.name}: BuildKit re-ran steps kiln plan did not predict`);
        t.deepEqual(extra, [], `${scenario.name}: kiln plan predicted steps BuildKit found CACHED`);
        rows.push(`${scenario.name.padEnd(14)} predicted ${String(predicted.size).padStart(3)}  executed ${String(observed.keys.size).padStart(3)}  targets built ${String(changed.size).padStart(2)}/${graphB.targets.length}  ~${plan.totalMinutes.toFixed(1)} min`);
      } finally {
        after.cleanup();
      }
    }
  });
  t.log(`plan accuracy: ${SCENARIOS.length - mismatches}/${SCENARIOS.length} scenarios exact\n${rows.join('\n')}`);
  console.log(`[engine] plan accuracy: ${SCENARIOS.length - mismatches}/${SCENARIOS.length} scenarios exact`);
});
