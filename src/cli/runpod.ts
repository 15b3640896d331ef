import { writeFileSync } from 'node:fs';
import { imageOf } from '../graph/select.ts';
import { resolve } from 'node:path';
import { imageRefs } from '../ci/tags.ts';
import { BAKE_VARIABLES, LOCAL_REGISTRY } from '../emit/bake-functions.ts';
import { DEFAULT_DISK, renderRunpodJson, runpodPod, runpodTemplate, type RunpodInput } from '../emit/runpod.ts';
import { KilnError } from '../errors.ts';
import { RUNPOD_GPU_TYPE_IDS } from '../facts/runpod.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize, type Synthesized } from './project.ts';

/** REST API v1 (https://docs.runpod.io/api-reference/templates/POST/templates, .../pods/POST/pods); override with RUNPOD_API_BASE. */
export const RUNPOD_API_BASE = 'https://rest.runpod.io/v1';
const TIMEOUT_MS = 30_000;

/** A failed deploy: the message is safe to print (the key is redacted from anything the server sent back). */
export class DeployError extends KilnError {}

export interface DeployOptions {
  readonly base: string;
  readonly key: string;
  readonly timeoutMs?: number;
  /** Debug lines (request line and headers, with the key masked). */
  readonly debug?: (line: string) => void;
}

/** Replace every occurrence of the key in `text` (error bodies may echo headers back). */
export function redact(text: string, key: string): string {
  return key.length > 0 ? text.split(key).join('***') : text;
}

/** What `--deploy` creates: a template (POST /templates) or, with --pod, a pod (POST /pods). */
export type Resource = 'template' | 'pod';

/** POST the template or pod; resolves to the id RunPod gave it. */
export async function deploy(resource: Resource, body: string, o: DeployOptions): Promise<string> {
  const url = `${o.base.replace(/\/+$/, '')}/${resource}s`;
  const headers = { Authorization: `Bearer ${o.key}`, 'Content-Type': 'application/json', Accept: 'application/json' };
  o.debug?.(`POST ${redact(url, o.key)}`);
  for (const [k, v] of Object.entries(headers)) o.debug?.(`  ${k}: ${k === 'Authorization' ? 'Bearer ***' : v}`);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? TIMEOUT_MS) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const detail =
      e.name === 'TimeoutError' ? `no answer within ${(o.timeoutMs ?? TIMEOUT_MS) / 1000}s` : [e.cause?.code, e.cause?.message ?? e.message].filter(Boolean).join(': ');
    throw new DeployError(redact(`cannot reach the RunPod API at ${url} (${detail}). Check the network, or RUNPOD_API_BASE.`, o.key));
  }
  const text = await res.text().catch(() => '');
  o.debug?.(`  -> ${res.status} ${res.statusText}`);
  const shown = redact(text.trim().slice(0, 4000), o.key) || '(empty body)';
  if (res.status === 401 || res.status === 403) {
    throw new DeployError(
      `RunPod refused the API key (${res.status} ${res.statusText}): check RUNPOD_API_KEY (Settings > API Keys; the key needs write access to ${resource}s).`,
    );
  }
  if (res.status >= 400 && res.status < 500) {
    throw new DeployError(`RunPod rejected the ${resource} (${res.status} ${res.statusText}):\n${shown}`);
  }
  if (!res.ok) throw new DeployError(`RunPod API error (${res.status} ${res.statusText}); try again later:\n${shown}`);
  let id: unknown;
  try {
    id = (JSON.parse(text) as { id?: unknown }).id;
  } catch {
    /* handled below */
  }
  if (typeof id !== 'string' || id === '') throw new DeployError(`RunPod answered ${res.status} but with no ${resource} id:\n${shown}`);
  return id;
}

/** Gather the renderer's input from the graph and the template's definition. */
export function runpodInput(s: Synthesized, template: string, gpu: string | undefined, registry: string, tag: string, name?: string): RunpodInput {
  const src = s.project.templates.find((t) => t.def.name === template);
  if (!src) {
    throw new KilnError(`unknown template "${template}" (templates: ${s.project.templates.map((t) => t.def.name).sort().join(', ')})`);
  }
  const gpus = src.def.gpus.map((g) => g.name).sort();
  const chosen = gpu ?? (gpus.length === 1 ? gpus[0] : undefined);
  if (!chosen) throw new KilnError(`template "${template}" is built for ${gpus.join(' and ')}: choose one with --gpu (${gpus.join('|')})`);
  const g = src.def.gpus.find((x) => x.name === chosen);
  if (!g) throw new KilnError(`template "${template}" has no GPU "${chosen}" (it has: ${gpus.join(', ')})`);
  const target = s.graph.targets.find((t) => t.name === `${template}-${chosen}`);
  if (!target) throw new KilnError(`no bake target ${template}-${chosen} in the graph`);
  const files = s.graph.templateFiles.find((f) => f.template === template);
  return {
    template,
    description: src.def.description,
    gpu: { name: g.name, title: g.title, sm: `sm_${g.sm}`, cuda: g.cuda, torch: g.torch.torch },
    imageName: imageRefs(registry, imageOf(target).repository, imageOf(target).tag, [tag])[0]!,
    ports: src.def.ports ?? [],
    env: src.def.env ?? {},
    features: s.graph.features[target.name] ?? [],
    attention: target.env.KILN_ATTENTION ?? '',
    models: files?.models ?? [],
    nodes: files?.nodes ?? [],
    disk: src.def.disk ?? DEFAULT_DISK,
    ...(name ? { name } : {}),
  };
}

const options = {
  gpu: { type: 'string', value: 'G', help: 'the GPU, when the template has more than one' },
  registry: { type: 'string', value: 'R', help: 'image registry (default: $REGISTRY, else kiln)' },
  tag: { type: 'string', value: 'T', help: 'image tag suffix (default: $TAG, else dev)' },
  name: { type: 'string', value: 'N', help: 'RunPod template name (default: kiln-<template>-<gpu>)' },
  pod: {
    type: 'boolean',
    default: false,
    help: 'the pod create body instead (POST /pods): the deployed template on this GPU type, hosts limited to CUDA >= the image\'s (allowedCudaVersions)',
  },
  'template-id': { type: 'string', value: 'ID', help: 'with --pod: the template id `kiln runpod --deploy` printed' },
  'gpu-type': { type: 'string', value: 'ID', help: 'with --pod: RunPod GPU type id (default: from the GPU title, src/facts/runpod.ts)' },
  out: { type: 'string', value: 'FILE', help: 'write the JSON to FILE' },
  deploy: { type: 'boolean', default: false, help: 'create the template (with --pod: the pod) through the RunPod REST API (needs RUNPOD_API_KEY)' },
  verbose: { type: 'boolean', default: false, help: 'print the request (the key masked)' },
} satisfies Options;

export const runpod: Command = {
  name: 'runpod',
  summary: 'RunPod template JSON for one template x GPU, or with --pod a pod on CUDA-compatible hosts (--deploy creates it)',
  usage: 'kiln runpod <template> [--gpu G] [--registry R] [--tag T] [--name N] [--pod --template-id ID [--gpu-type ID]] [--out FILE] [--deploy] [--verbose]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('runpod', options, argv, { positionals: true });
    if (positionals.length !== 1) {
      io.err(`usage: ${this.usage} (see \`kiln runpod --help\`)`);
      return 2;
    }
    const key = io.env.RUNPOD_API_KEY ?? '';
    if (values.deploy && !key) {
      io.err('kiln runpod: --deploy needs RUNPOD_API_KEY (create a key in the RunPod console under Settings > API Keys, then export RUNPOD_API_KEY=...)');
      return 2;
    }
    const templateId = values['template-id'];
    if (values.pod && !templateId) {
      io.err('kiln runpod --pod: needs --template-id ID, the id `kiln runpod <template> --gpu G --deploy` printed (a pod is created from the deployed template)');
      return 2;
    }
    if (!values.pod && (templateId || values['gpu-type'])) {
      io.err(`kiln runpod: --${templateId ? 'template-id' : 'gpu-type'} only applies with --pod`);
      return 2;
    }
    const registry = values.registry ?? (io.env.REGISTRY || LOCAL_REGISTRY);
    const tag = values.tag ?? io.env.TAG ?? BAKE_VARIABLES.TAG!;
    const input = runpodInput(await synthesize(io.root, io), positionals[0]!, values.gpu, registry, tag, values.name);
    const name = input.name ?? `kiln-${input.template}-${input.gpu.name}`;
    const resource: Resource = values.pod ? 'pod' : 'template';
    let json: string;
    if (templateId) {
      const gpuTypeId = values['gpu-type'] ?? RUNPOD_GPU_TYPE_IDS[input.gpu.title];
      if (!gpuTypeId) {
        io.err(
          `kiln runpod --pod: RunPod has no GPU type named "${input.gpu.title}" (title of GPU profile ${input.gpu.name}): ` +
            'pass --gpu-type with its GPU ID from https://docs.runpod.io/references/gpu-types (e.g. "NVIDIA GeForce RTX 4090"), or add it to RUNPOD_GPU_TYPE_IDS in src/facts/runpod.ts',
        );
        return 2;
      }
      json = renderRunpodJson(runpodPod({ name, templateId, gpuTypeId, cuda: input.gpu.cuda }));
    } else {
      json = renderRunpodJson(runpodTemplate(input));
    }
    if (values.out) {
      writeFileSync(resolve(io.root, values.out), json);
      io.err(`wrote ${values.out}`);
    }
    if (!values.deploy) {
      if (!values.out) io.out(json.trimEnd());
      return 0;
    }
    const base = io.env.RUNPOD_API_BASE || RUNPOD_API_BASE;
    try {
      const id = await deploy(resource, json, { base, key, ...(values.verbose ? { debug: (l: string) => io.err(redact(l, key)) } : {}) });
      io.err(resource === 'pod' ? `created RunPod pod ${name} (template ${templateId})` : `created RunPod template ${name} (${input.imageName})`);
      io.out(id);
      return 0;
    } catch (err) {
      if (!(err instanceof DeployError)) throw err;
      io.err(`kiln runpod --deploy: ${redact(err.message, key)}`);
      return 1;
    }
  },
};
