import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { LayerKindName } from '../dsl/types.ts';
import type { Layer, Target, TemplateFiles } from '../graph/types.ts';
import type { CheckSpec } from '../graph/checks.ts';
import { renderCheckSpec, renderModelsManifest, renderNodesLock } from './manifests.ts';
import { hashBanner } from './banner.ts';
import { dockerfileString, shellWord } from './quote.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Which partial renders each layer kind (kinds that share a shape share a partial). */
const PARTIAL: Readonly<Record<LayerKindName, string>> = {
  apt: 'apt',
  'toolchain-apt': 'apt',
  'devel-apt': 'apt',
  'llama-runtime-apt': 'apt',
  venv: 'venv',
  'pip-tools': 'pip-install',
  torch: 'pip-install',
  xformers: 'pip-install',
  constraints: 'constraints',
  comfyui: 'git-commit',
  manager: 'git-commit',
  'node-clone': 'git-commit',
  'sage-clone': 'git-commit',
  'flash-clone': 'git-tag',
  'llama-clone': 'git-tag',
  'comfyui-reqs': 'pip-requirements',
  'manager-reqs': 'pip-requirements',
  filebrowser: 'release-binary',
  jupyterlab: 'pip-install-constrained',
  'node-reqs': 'pip-requirements-optional',
  'sage-build': 'wheel-build',
  'flash-build': 'wheel-build',
  'llama-build': 'cmake-build',
  'kernel-install': 'wheel-install',
  'kernel-wheel': 'wheel-download',
  'cuda-devel': 'cuda-devel',
  'template-apt': 'apt',
  'template-pip': 'pip-install-pinned',
  'llama-copy': 'copy-from',
  'node-copy': 'copy-from',
  workflows: 'copy-from',
  runtime: 'copy-from',
  manifests: 'copy-heredoc',
  'check-spec': 'copy-heredoc',
  checks: 'check-run',
  'check-report': 'copy-from',
};

/** Stage names of a template Dockerfile with checks (see LayerStage); `kiln check` builds up to `checks`. */
export const STAGE_NAMES = { image: 'kiln-image', checks: 'kiln-checks' } as const;

/** An isolated handlebars instance: our helpers and partials never leak into (or from) other users. */
const hb = Handlebars.create();
hb.registerHelper('sh', (v: unknown) => shellWord(String(v)));
hb.registerHelper('dq', (v: unknown) => dockerfileString(String(v)));
hb.registerHelper('json', (v: unknown) => JSON.stringify(v));
hb.registerHelper('dirname', (v: unknown) => dirname(String(v)));
hb.registerHelper('partialFor', (kind: LayerKindName) => PARTIAL[kind]);
for (const file of readdirSync(join(here, 'partials')).sort()) {
  hb.registerPartial(file.replace(/\.hbs$/, ''), readFileSync(join(here, 'partials', file), 'utf8'));
}
const options = { noEscape: true, strict: true } as const;
const render = hb.compile(readFileSync(join(here, 'dockerfile.hbs'), 'utf8'), options);

/** Data a partial renders: the layer's params, plus the text of generated files for their heredoc. */
function partialView(layer: Layer): Readonly<Record<string, unknown>> {
  let files: { name: string; content: string }[];
  if (layer.kind === 'manifests') {
    const manifest = layer.params.manifest as TemplateFiles;
    files = [
      { name: 'models.json', content: renderModelsManifest(manifest) },
      { name: 'nodes.lock.json', content: renderNodesLock(manifest) },
    ];
  } else if (layer.kind === 'check-spec') {
    files = [{ name: 'spec.json', content: renderCheckSpec(layer.params.spec as CheckSpec) }];
  } else if (layer.kind === 'check-report') {
    return { ...layer.params, context: STAGE_NAMES.checks };
  } else {
    return layer.params;
  }
  for (const f of files) {
    // A line equal to the delimiter would end the heredoc early.
    if (f.content.split('\n').includes(f.name)) throw new Error(`${f.name} (${layer.id}) contains its heredoc delimiter`);
  }
  return { dest: layer.params.dest, files };
}

/** The Dockerfile of one target. */
export function renderDockerfile(target: Target): string {
  const view = (stage: Layer['stage']) =>
    target.layers
      .filter((l) => l.stage === stage)
      .map((l) => ({ id: l.id, kind: l.kind, params: partialView(l), cost: l.cost, volatility: l.volatility }));
  const checks = view('checks');
  const text = render({
    banner: hashBanner(),
    from: 'image' in target.from ? target.from.image : target.from.context,
    stages: checks.length > 0 ? STAGE_NAMES : null,
    // A GPU variant's Dockerfile only sets metadata (see Target.variantOf).
    shell: target.layers.length > 0,
    headerEnv: target.headerEnv,
    layers: view('image'),
    checks,
    final: view('final'),
    env: Object.entries(target.env),
    expose: target.expose,
    entrypoint: target.entrypoint ?? null,
  });
  return text.replace(/\n{3,}/g, '\n\n');
}
