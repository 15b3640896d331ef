import type { BaseDefinition, FeatureName, GpuDefinition } from '../dsl/types.ts';
import type { FileDigest, TemplateSource } from '../dsl/load.ts';
import { IMAGE_PATHS as P } from './image-paths.ts';
import type { LayerSpec } from './layer-spec.ts';
import { aptParams, llamaRuntimeApt, nodeCheckout, nodeTargetName, prebuilt } from './stages.ts';
import type { TemplateFiles } from './types.ts';

/** Where a prebuilt wheel is downloaded to (its file name keeps the tags pip and uv read). */
export function wheelFile(url: string): string {
  return decodeURIComponent(url.split('/').at(-1) ?? url);
}

/**
 * Layers of <template>-<gpu>: kernels from the builders, llama-server, custom
 * nodes (checked out by node-* targets) and their requirements, workflows, manifests, runtime scripts.
 */
export function templateLayers(
  t: TemplateSource,
  features: readonly FeatureName[],
  manifest: TemplateFiles,
  runtime: readonly FileDigest[],
  on: { readonly base: BaseDefinition; readonly gpu: GpuDefinition },
): LayerSpec[] {
  const specs: LayerSpec[] = [];
  const how = { uv: on.base.uv !== undefined };
  if (t.def.cudaDevel) {
    // The toolkit (nvcc, headers) from the devel image, before any node requirement compiles CUDA code.
    const dir = `cuda-${on.gpu.cuda.split('.').slice(0, 2).join('.')}`;
    specs.push({ id: 'cuda-devel', kind: 'cuda-devel', params: { context: 'devel', source: '/usr/local', mount: '/tmp/kiln-devel', dir }, uses: ['devel'] });
  }
  for (const k of ['sage', 'flash'] as const) {
    if (!features.includes(k)) continue;
    const wheel = prebuilt(on.gpu[k]);
    if (wheel) {
      const file = `/tmp/kiln-wheels/${wheelFile(wheel.url)}`;
      specs.push({ id: `kernel-wheel:${k}`, kind: 'kernel-wheel', params: { url: wheel.url, file, checksum: `${wheel.sha256}  ${file}`, ...how } });
      continue;
    }
    specs.push({
      id: `kernel-install:${k}`,
      kind: 'kernel-install',
      // The named context of a kernel builder is the feature's name (see resolve.ts).
      params: { context: k, source: P.wheels, mount: `/tmp/kiln-wheels-${k}`, ...how },
      uses: [k],
    });
  }
  if (features.includes('llama')) {
    specs.push({ id: 'llama-copy', kind: 'llama-copy', params: { context: 'llama', source: `${P.llama}/`, dest: `${P.llama}/` }, uses: ['llama'] });
    // validateProject made sure a cuBLAS package is known when the flavour lacks it.
    specs.push({ id: 'llama-runtime-apt', kind: 'llama-runtime-apt', params: aptParams(llamaRuntimeApt(on.base, on.gpu) ?? []) });
  }
  const apt = t.def.apt ?? [];
  if (apt.length > 0) specs.push({ id: 'template-apt', kind: 'template-apt', params: aptParams(apt) });
  const pins = Object.entries(t.def.pip ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([n, v]) => `${n}==${v}`);
  if (pins.length > 0) {
    // Installed under the torch pins, then added to them: the nodes' requirements (and
    // CUSTOM_NODES at run time) cannot move a package the template pinned.
    specs.push({ id: 'template-pip', kind: 'template-pip', params: { pins, constraints: P.constraints, ...how } });
  }
  for (const n of t.def.nodes ?? []) {
    const dir = `${P.comfyui}/custom_nodes/${n.name}`;
    // The checkout comes from the node's own target (named context = target name, see resolve.ts).
    const context = nodeTargetName(n);
    specs.push({ id: `node-copy:${n.name}`, kind: 'node-copy', params: { context, source: nodeCheckout(n), dest: dir }, uses: [context] });
    if (n.requirements) {
      specs.push({
        id: `node-reqs:${n.name}`,
        kind: 'node-reqs',
        params: { requirements: `${dir}/requirements.txt`, constraints: P.constraints, ...how },
        after: [`node-copy:${n.name}`, ...(pins.length > 0 ? ['template-pip'] : []), ...(t.def.cudaDevel ? ['cuda-devel'] : [])],
      });
    }
  }
  // Local directories are named contexts (see resolve.ts); their files' digests key the COPY.
  // The manifests are generated, so they travel inside the Dockerfile (a COPY heredoc). The
  // order model puts them before workflows and scripts (they change less often): unique per
  // template, they keep two templates' local COPYs apart (assertNoTwinLocalCopies checks it).
  specs.push({ id: 'manifests', kind: 'manifests', params: { dest: `${P.manifest}/`, manifest } });
  if (t.workflows.length > 0) {
    specs.push({
      id: 'workflows',
      kind: 'workflows',
      params: { context: 'workflows', source: '*.json', dest: `${P.workflows}/` },
      inputs: digests(t.workflows),
      uses: ['workflows'],
    });
  }
  specs.push({
    id: 'runtime',
    kind: 'runtime',
    params: { context: 'runtime', source: '.', dest: `${P.scripts}/` },
    inputs: digests(runtime),
    uses: ['runtime'],
  });
  return specs;
}

const digests = (files: readonly FileDigest[]): string[] => files.map((f) => `${f.path}:${f.sha256}`).sort();

/** Features a template enables, in a fixed order. */
export function enabledFeatures(t: TemplateSource): FeatureName[] {
  const f = t.def.features ?? {};
  return (['sage', 'flash', 'llama'] as const).filter((k) => f[k] === true);
}

/** The attention backend ComfyUI starts with ('' = ComfyUI's default). */
export function attentionOf(t: TemplateSource): 'sage' | 'flash' | '' {
  const a = t.def.attention;
  if (a === 'pytorch') return '';
  if (a) return a;
  if (t.def.features?.sage) return 'sage';
  if (t.def.features?.flash) return 'flash';
  return '';
}
