import type { Project } from '../dsl/load.ts';
import { KilnError } from '../errors.ts';
import { FEATURE_NAMES, type FeatureName, type GpuDefinition } from '../dsl/types.ts';
import { checkLayers, templateCheckSpec } from './checks.ts';
import { contentKey } from './keys.ts';
import { buildLayers, type LayerSpec } from './layer-spec.ts';
import { templateFiles } from './manifests.ts';
import {
  baseCommonLayers,
  comfyLayers,
  develImage,
  develLayers,
  cudaSlug,
  flashLayers,
  installs,
  llamaLayers,
  nodeLayers,
  nodeTargetName,
  prebuilt,
  pythonEnv,
  runtimeImage,
  sageLayers,
  servicePortsIn,
  torchLayers,
} from './stages.ts';
import { attentionOf, enabledFeatures, templateLayers } from './template-target.ts';
import type { BuildGraph, ContextSource, FromSource, Group, Target, TargetKind } from './types.ts';
import { validateProject } from './validate.ts';

const ENTRYPOINT = ['/opt/kiln/scripts/start.sh'] as const;

/** Resolve validated definitions into the build graph. Throws ValidationError on bad input. */
export function resolveGraph(project: Project): BuildGraph {
  validateProject(project);
  const base = project.bases[0]!.def;
  const gpuByName = new Map(project.gpus.map((g) => [g.def.name, g.def]));
  const targets = new Map<string, Target>();

  const add = (t: Target): Target => {
    targets.set(t.name, t);
    return t;
  };

  const imageKey = (image: string): string => contentKey('image', image);

  interface StageInput {
    name: string;
    kind: TargetKind;
    gpu?: GpuDefinition;
    from: FromSource;
    contexts?: Record<string, ContextSource>;
    specs: LayerSpec[];
    headerEnv?: Record<string, string>;
    image: { repository: string; tag: string } | null;
    context?: string;
    labels: Record<string, string>;
    template?: string;
    env?: Record<string, string>;
    expose?: string[];
    entrypoint?: readonly string[];
    overrides: Parameters<typeof buildLayers>[3];
  }

  const layersOf = (s: StageInput) => {
    const contexts = s.contexts ?? {};
    // A local directory's content enters the key through the reading layer's `inputs`.
    const contextKeys = Object.fromEntries(
      Object.entries(contexts).map(([n, c]) => [n, 'target' in c ? targets.get(c.target)!.key : contentKey('local', c.local)]),
    );
    const fromKey = 'image' in s.from ? imageKey(s.from.image) : contextKeys[s.from.context]!;
    return buildLayers(s.specs, contentKey(fromKey, s.headerEnv ?? {}), contextKeys, s.overrides);
  };

  const stage = (s: StageInput): Target => {
    const { layers, key } = layersOf(s);
    return add({
      name: s.name,
      kind: s.kind,
      ...(s.gpu ? { gpu: s.gpu.name } : {}),
      ...(s.template ? { template: s.template } : {}),
      from: s.from,
      contexts: s.contexts ?? {},
      layers,
      headerEnv: s.headerEnv ?? {},
      env: s.env ?? {},
      expose: s.expose ?? [],
      ...(s.entrypoint ? { entrypoint: s.entrypoint } : {}),
      labels: s.labels,
      image: s.image,
      context: s.context ?? 'bake',
      dockerfile: `bake/dockerfiles/${s.name}.Dockerfile`,
      key,
      imageKey: contentKey(key, s.env ?? {}, s.expose ?? [], s.entrypoint ?? null, s.labels),
    });
  };

  const gpuLabels = (gpu: GpuDefinition): Record<string, string> => ({
    'kiln.gpu': gpu.name,
    'kiln.sm': `sm_${gpu.sm}`,
    'kiln.cuda': gpu.cuda,
    'kiln.torch': gpu.torch.torch,
  });

  // Which GPUs and which features per GPU some template needs.
  const used = new Map<string, Set<FeatureName>>();
  for (const t of project.templates) {
    for (const g of t.def.gpus) {
      const set = used.get(g.name) ?? new Set<FeatureName>();
      for (const f of enabledFeatures(t)) set.add(f);
      used.set(g.name, set);
    }
  }
  const usedGpus = [...used.keys()].sort().map((n) => gpuByName.get(n)!);

  // The devel image is needed where nvcc runs: kernels built from source, and templates that opt in.
  const compiles = (gpu: GpuDefinition, f: FeatureName): boolean =>
    used.get(gpu.name)!.has(f) && (f === 'llama' || prebuilt(gpu[f]) === null);
  const develCuda = new Set(
    usedGpus
      .filter((g) => FEATURE_NAMES.some((f) => compiles(g, f)) || project.templates.some((t) => t.def.cudaDevel && t.def.gpus.some((x) => x.name === g.name)))
      .map((g) => g.cuda),
  );

  for (const cuda of [...new Set(usedGpus.map((g) => g.cuda))].sort()) {
    const gpu = usedGpus.find((g) => g.cuda === cuda)!;
    stage({
      name: `base-common-${cudaSlug(cuda)}`,
      kind: 'base-common',
      from: { image: runtimeImage(base, gpu) },
      specs: baseCommonLayers(base),
      headerEnv: pythonEnv(base),
      image: { repository: 'kiln-base-common', tag: cudaSlug(cuda) },
      labels: { 'kiln.cuda': cuda },
      overrides: [base.layers],
    });
    if (!develCuda.has(cuda)) continue;
    stage({
      name: `devel-${cudaSlug(cuda)}`,
      kind: 'devel',
      from: { image: develImage(base, gpu) },
      specs: develLayers(base),
      headerEnv: pythonEnv(base),
      image: { repository: 'kiln-devel', tag: cudaSlug(cuda) },
      labels: { 'kiln.cuda': cuda },
      overrides: [base.layers],
    });
  }

  for (const gpu of usedGpus) {
    const common = { gpu, labels: gpuLabels(gpu), overrides: [base.layers, gpu.layers] };
    const devel = { devel: { target: `devel-${cudaSlug(gpu.cuda)}` } };
    stage({
      ...common,
      name: `torch-${gpu.name}`,
      kind: 'torch',
      from: { context: 'base-common' },
      contexts: { 'base-common': { target: `base-common-${cudaSlug(gpu.cuda)}` } },
      specs: torchLayers(gpu, base),
      image: { repository: 'kiln-torch', tag: gpu.name },
    });
    stage({
      ...common,
      name: `base-${gpu.name}`,
      kind: 'base',
      from: { context: 'torch' },
      contexts: { torch: { target: `torch-${gpu.name}` } },
      specs: comfyLayers(base),
      image: { repository: 'kiln-base', tag: gpu.name },
    });
    // Kernel builders: FROM the devel image, building against torch-<gpu>'s venv (bind-mounted).
    for (const [f, specs] of [
      ['sage', () => sageLayers(gpu)],
      ['flash', () => flashLayers(gpu)],
    ] as const) {
      if (!compiles(gpu, f)) continue;
      stage({
        ...common,
        name: `${f}-${gpu.name}`,
        kind: f,
        from: { context: 'devel' },
        contexts: { ...devel, torch: { target: `torch-${gpu.name}` } },
        specs: specs(),
        image: { repository: `kiln-${f}`, tag: gpu.name },
      });
    }
    if (compiles(gpu, 'llama')) {
      stage({
        ...common,
        name: `llama-${gpu.name}`,
        kind: 'llama',
        from: { context: 'devel' },
        contexts: devel,
        specs: llamaLayers(gpu),
        image: { repository: 'kiln-llama', tag: gpu.name },
      });
    }
  }

  // One checkout per pinned node, shared by every template and GPU that pins it.
  const nodeBase = `base-common-${cudaSlug(usedGpus[0]!.cuda)}`;
  for (const t of project.templates) {
    for (const n of t.def.nodes ?? []) {
      const name = nodeTargetName(n);
      // validateProject made sure one name means one repo at one commit.
      if (targets.has(name)) continue;
      stage({
        name,
        kind: 'node',
        from: { context: 'base-common' },
        contexts: { 'base-common': { target: nodeBase } },
        specs: nodeLayers(n),
        image: null,
        labels: {},
        overrides: [base.layers],
      });
    }
  }

  const files = project.templates.map((t) => templateFiles(t.def, t.lock?.lock));
  const featureMap: Record<string, FeatureName[]> = {};
  const withSsh = installs(base.apt, 'openssh-server');
  const gpuFiles = new Map(project.gpus.map((g) => [g.def.name, g]));
  for (const [i, t] of project.templates.entries()) {
    const features = enabledFeatures(t);
    const { ssh, ...always } = servicePortsIn(t.def.env);
    const ports = [...Object.values(always), ...(withSsh ? [ssh] : []), ...(t.def.ports ?? []).map((p) => p.port)];
    const inputs: StageInput[] = [...t.def.gpus]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((gpu) => {
        const name = `${t.def.name}-${gpu.name}`;
        featureMap[name] = features;
        const contexts: Record<string, ContextSource> = {
          base: { target: `base-${gpu.name}` },
          runtime: { local: 'scripts' },
        };
        // Kernels built here come from their builder targets; prebuilt wheels are downloaded in the template.
        for (const f of features) if (compiles(gpu, f)) contexts[f] = { target: `${f}-${gpu.name}` };
        if (t.def.cudaDevel) contexts.devel = { target: `devel-${cudaSlug(gpu.cuda)}` };
        for (const n of t.def.nodes ?? []) {
          const node = nodeTargetName(n);
          contexts[node] = { target: node };
        }
        if (t.workflows.length > 0) contexts.workflows = { local: `templates/${t.folder}/workflows` };
        return {
          name,
          kind: 'template',
          gpu,
          template: t.def.name,
          from: { context: 'base' },
          contexts,
          specs: templateLayers(t, features, files[i]!, project.runtime, { base, gpu }),
          image: { repository: t.def.name, tag: gpu.name },
          labels: {
            ...gpuLabels(gpu),
            'kiln.template': t.def.name,
            'kiln.features': features.length > 0 ? features.join(',') : 'none',
            'org.opencontainers.image.title': `${t.def.name} (${gpu.title})`,
            'org.opencontainers.image.description': t.def.description,
          },
          env: {
            KILN_ATTENTION: attentionOf(t),
            KILN_GPU: gpu.name,
            // start.sh compares it with the GPU nvidia-smi finds (same form as the kiln.sm label).
            KILN_SM: `sm_${gpu.sm}`,
            KILN_TEMPLATE: t.def.name,
            ...t.def.env,
          },
          expose: [...new Set(ports)].sort((a, b) => a - b).map(String),
          entrypoint: ENTRYPOINT,
          overrides: [base.layers, gpu.layers, t.def.layers],
        };
      });
    // GPUs whose image files are equal (same torch, no GPU-specific kernel) share one build,
    // and one run of the checks, whose spec then covers every GPU of the group.
    const groups = new Map<string, StageInput[]>();
    for (const s of inputs) {
      const key = layersOf(s).key;
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const group of groups.values()) {
      const spec = templateCheckSpec({
        template: t,
        base: project.bases[0]!,
        gpus: group.map((s) => gpuFiles.get(s.gpu!.name)!),
        targets: group.map((s) => s.name),
        features,
      });
      const [primary, ...variants] = group.map((s) => stage({ ...s, specs: [...s.specs, ...checkLayers(spec, s.env ?? {})] }));
      // The variants' checks stage differs only in ENV (KILN_GPU): their files equal the primary's.
      for (const v of variants) add(variantOf(v, primary!));
    }
  }
  assertNoTwinLocalCopies([...targets.values()]);

  const sorted = [...targets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  const templateTargets = sorted.filter((t) => t.kind === 'template');
  const groups: Group[] = [
    { name: 'default', targets: templateTargets.map((t) => t.name) },
    ...[...new Set(templateTargets.map((t) => t.template!))].sort().map((name) => ({
      name,
      targets: templateTargets.filter((t) => t.template === name).map((t) => t.name),
    })),
    ...usedGpus.map((g) => ({ name: g.name, targets: templateTargets.filter((t) => t.gpu === g.name).map((t) => t.name) })),
  ];
  return {
    targets: sorted,
    groups,
    templateFiles: [...files].sort((a, b) => (a.template < b.template ? -1 : 1)),
    features: featureMap,
  };
}

/**
 * `t` as a metadata-only variant of `primary` (equal files): FROM primary,
 * then t's own ENV, ports, entrypoint and labels (they override primary's).
 */
function variantOf(t: Target, primary: Target): Target {
  // key and imageKey stay: the files are primary's (equal keys), the config is t's.
  return { ...t, from: { context: 'variant' }, contexts: { variant: { target: primary.name } }, layers: [], headerEnv: {}, variantOf: primary.name };
}

/**
 * Guard for the invariant that makes local contexts safe: no two targets run
 * the same COPY (same key) from a local directory, which buildx 0.13 re-runs
 * on every rebuild when both are baked together. Variants are collapsed
 * above and the manifests (unique per template) come before any local COPY,
 * so this only fires when that ordering changes.
 */
function assertNoTwinLocalCopies(targets: readonly Target[]): void {
  const seen = new Map<string, string>();
  for (const t of targets) {
    const isLocal = (context: string): boolean => 'local' in (t.contexts[context] ?? {});
    for (const l of t.layers) {
      if (!l.uses.some(isLocal)) continue;
      const other = seen.get(l.key);
      if (other) {
        throw new KilnError(
          `${other} and ${t.name}/${l.id} would run the same COPY from a local directory, which buildx 0.13 re-runs on every ` +
            'rebuild when both are baked together.\n  fix: keep the manifests layer before workflows and runtime: check the `layers` overrides ' +
            '(cost, volatility) of those kinds in base/, the GPU files and the templates.',
        );
      }
      seen.set(l.key, `${t.name}/${l.id}`);
    }
  }
}
