import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { LayerKindName } from '../dsl/types.ts';
import type { Target } from '../graph/types.ts';
import { hashBanner } from './banner.ts';
import { dockerfileString, shellWord } from './quote.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Which partial renders each layer kind (kinds that share a shape share a partial). */
const PARTIAL: Readonly<Record<LayerKindName, string>> = {
  apt: 'apt',
  'toolchain-apt': 'apt',
  'llama-apt': 'apt',
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
  'node-reqs': 'pip-requirements-optional',
  'sage-build': 'wheel-build',
  'flash-build': 'wheel-build',
  'llama-build': 'cmake-build',
  'kernel-install': 'wheel-install',
  'llama-copy': 'copy-from',
  workflows: 'copy-from',
  runtime: 'copy-from',
  manifests: 'copy-from',
  files: 'copy',
};

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

/** The Dockerfile of one target. */
export function renderDockerfile(target: Target): string {
  const text = render({
    banner: hashBanner(),
    from: 'image' in target.from ? target.from.image : target.from.context,
    // Nothing runs in a `FROM scratch` files image.
    shell: !('image' in target.from && target.from.image === 'scratch'),
    headerEnv: target.headerEnv,
    layers: target.layers.map((l) => ({ id: l.id, kind: l.kind, params: l.params, cost: l.cost, volatility: l.volatility })),
    env: Object.entries(target.env),
    expose: target.expose,
    entrypoint: target.entrypoint ?? null,
  });
  return text.replace(/\n{3,}/g, '\n\n');
}
