/**
 * RunPod pod template, as the body of the REST API's create call:
 *   POST https://rest.runpod.io/v1/templates  (Authorization: Bearer <key>)
 * Fields per "Create a new template", https://docs.runpod.io/api-reference/templates/POST/templates
 * (operationId CreateTemplate): name, imageName, ports (strings "8188/http",
 * "22/tcp"), env (object of name -> value), containerDiskInGb, volumeInGb,
 * volumeMountPath, isServerless, readme (markdown), isPublic.
 *
 * Secrets never appear in the template: sensitive variables reference RunPod
 * secrets (`{{ RUNPOD_SECRET_<NAME> }}`, created by the user under Settings >
 * Secrets), so the JSON can be committed, printed and deployed as is.
 *
 * Host CUDA: a v1 template has no field that restricts the host's CUDA version
 * (src/facts/runpod.ts), so a CUDA 12.8 image can land on an older driver
 * ("unsatisfied condition: cuda>=12.8", runpod/containers#98). The pod create
 * (POST /v1/pods) takes `allowedCudaVersions`: `runpodPod` renders that body
 * for a deployed template, and the template's readme says what to choose.
 */
import semver from 'semver';
import { KilnError } from '../errors.ts';
import { RUNPOD_CUDA_VERSIONS } from '../facts/runpod.ts';
import { servicePortsIn } from '../graph/stages.ts';
import type { ManifestModel } from '../graph/types.ts';

/** Everything the renderer needs, gathered by the CLI from the graph and the template's definition. */
export interface RunpodInput {
  readonly template: string;
  readonly description: string;
  readonly gpu: { readonly name: string; readonly title: string; readonly sm: string; readonly cuda: string; readonly torch: string };
  /** Full image reference: REGISTRY/<repository>:<gpu>-<TAG>. */
  readonly imageName: string;
  /** Extra ports of the template (ComfyUI, FileBrowser, Jupyter and SSH are always there). */
  readonly ports: readonly { readonly port: number; readonly protocol: 'http' | 'tcp'; readonly name: string }[];
  /** Env defaults the template sets (baked into the image; repeated here so they show and can be edited on RunPod). */
  readonly env: Readonly<Record<string, string>>;
  readonly features: readonly string[];
  readonly attention: string;
  readonly models: readonly ManifestModel[];
  readonly nodes: readonly { readonly name: string; readonly repo: string; readonly commit: string }[];
  readonly disk: { readonly containerGb: number; readonly volumeGb: number };
  /** @default `kiln-<template>-<gpu>` */
  readonly name?: string;
}

export interface RunpodTemplate {
  readonly name: string;
  readonly imageName: string;
  readonly ports: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly containerDiskInGb: number;
  readonly volumeInGb: number;
  readonly volumeMountPath: string;
  readonly isServerless: false;
  readonly isPublic: false;
  readonly readme: string;
}

export const DEFAULT_DISK = { containerGb: 40, volumeGb: 100 } as const;

/**
 * The RunPod CUDA versions a host may report for an image built on CUDA `cuda`:
 * those >= its major.minor, ascending. The nvidia/cuda base gates on
 * major.minor (12.8.1 images carry NVIDIA_REQUIRE_CUDA="cuda>=12.8 ...",
 * dist/12.8.1/ubuntu2404/base/Dockerfile of NVIDIA's image sources), so a 12.8
 * host runs a 12.8.1 image and 12.8.1 must not exclude it.
 * Never empty: RunPod reads an empty list as "any CUDA version".
 */
export function allowedCudaVersions(cuda: string, offered: readonly string[] = RUNPOD_CUDA_VERSIONS): string[] {
  const image = semver.coerce(cuda);
  if (!image) throw new KilnError(`CUDA version "${cuda}" of the GPU profile is not a version (expected e.g. "12.8.1")`);
  const floor = `${image.major}.${image.minor}.0`;
  const allowed = offered
    .map((v) => ({ v, parsed: semver.coerce(v) }))
    .filter((x): x is { v: string; parsed: semver.SemVer } => x.parsed !== null && semver.gte(x.parsed, floor))
    .sort((a, b) => semver.compare(a.parsed, b.parsed))
    .map((x) => x.v);
  if (allowed.length === 0) {
    throw new KilnError(
      `no CUDA version RunPod lists (${offered.join(', ')}) is >= ${image.major}.${image.minor}, the image's CUDA (${cuda}): ` +
        'update RUNPOD_CUDA_VERSIONS in src/facts/runpod.ts from RunPod\'s API reference (PodCreateInput.allowedCudaVersions)',
    );
  }
  return allowed;
}

/** A pod from a deployed template: the documented POST /v1/pods body with `templateId`. */
export interface RunpodPodInput {
  readonly name: string;
  /** The id `kiln runpod --deploy` printed for the template. */
  readonly templateId: string;
  /** RunPod GPU type id, e.g. "NVIDIA GeForce RTX 5090" (src/facts/runpod.ts). */
  readonly gpuTypeId: string;
  /** CUDA version of the image's GPU profile, e.g. "12.8.1". */
  readonly cuda: string;
}

export interface RunpodPod {
  readonly name: string;
  readonly templateId: string;
  readonly gpuTypeIds: readonly string[];
  readonly gpuCount: 1;
  readonly allowedCudaVersions: readonly string[];
}

export function runpodPod(input: RunpodPodInput): RunpodPod {
  return {
    name: input.name,
    templateId: input.templateId,
    gpuTypeIds: [input.gpuTypeId],
    gpuCount: 1,
    allowedCudaVersions: allowedCudaVersions(input.cuda),
  };
}

/** Services every Kiln image runs (scripts/start.sh), in port order of the RunPod UI, where the template's env puts them. */
function standardPorts(env: RunpodInput['env']) {
  const port = servicePortsIn(env);
  return [
    { port: port.comfyui, protocol: 'http', name: 'ComfyUI' },
    { port: port.filebrowser, protocol: 'http', name: 'FileBrowser' },
    { port: port.jupyter, protocol: 'http', name: 'Jupyter (ENABLE_JUPYTER=true)' },
    { port: port.status, protocol: 'http', name: 'Kiln status, JSON (GET /status; ENABLE_STATUS)' },
    { port: port.ssh, protocol: 'tcp', name: 'SSH (key only, PUBLIC_KEY)' },
  ] as const;
}

/** Variables that hold secrets: the template references a RunPod secret of the same name. */
export const SECRET_VARIABLES = ['HF_TOKEN', 'CIVITAI_TOKEN', 'FILEBROWSER_PASSWORD', 'JUPYTER_TOKEN'] as const;

export const secretRef = (name: string) => `{{ RUNPOD_SECRET_${name} }}`;

/** Runtime variables shown in the template, with defaults and what they do (see scripts/start.sh). */
const RUNTIME_VARIABLES: readonly { readonly name: string; readonly value: string; readonly doc: string }[] = [
  { name: 'HF_TOKEN', value: secretRef('HF_TOKEN'), doc: 'Hugging Face token for gated models (RunPod secret HF_TOKEN)' },
  { name: 'CIVITAI_TOKEN', value: secretRef('CIVITAI_TOKEN'), doc: 'Civitai API token (RunPod secret CIVITAI_TOKEN)' },
  { name: 'FILEBROWSER_PASSWORD', value: secretRef('FILEBROWSER_PASSWORD'), doc: 'FileBrowser admin password; generated and shown once in the log when empty' },
  { name: 'JUPYTER_TOKEN', value: secretRef('JUPYTER_TOKEN'), doc: 'Jupyter token; generated and shown once in the log when empty' },
  { name: 'PUBLIC_KEY', value: '', doc: 'SSH public key; SSH is key-only and off when empty' },
  { name: 'ENABLE_FILEBROWSER', value: 'true', doc: 'FileBrowser on FILEBROWSER_PORT (default 8080)' },
  { name: 'ENABLE_JUPYTER', value: 'false', doc: 'JupyterLab on JUPYTER_PORT (default 8888)' },
  { name: 'SKIP_MODEL_DOWNLOAD', value: 'false', doc: 'skip the model fetch at start' },
  { name: 'COMFY_ARGS', value: '', doc: 'extra ComfyUI command-line arguments' },
  { name: 'COMFY_PERF_FLAGS', value: '', doc: 'ComfyUI performance flags by name (cuda-malloc, bf16-unet, bf16-vae, bf16-text-enc, fast, highvram, gpu-only); each checked against the GPU and this ComfyUI' },
  { name: 'ENABLE_MANAGER_UI', value: 'false', doc: "ComfyUI-Manager's menu and web API (`comfyctl manager-ui on` + restart at run time)" },
  { name: 'ENABLE_STATUS', value: 'true', doc: 'status endpoint (JSON, no secrets) on STATUS_PORT (default 9188)' },
  { name: 'NUKE_ON_STOP', value: 'false', doc: 'on a hard stop or SIGTERM, delete user data (outputs, inputs, user dir, temp, caches, histories, logs) when ComfyUI was ready in this container' },
  { name: 'NUKE_MODELS', value: 'false', doc: 'nuke deletes the models too' },
  { name: 'PRIVACY_MODE', value: 'false', doc: 'telemetry hosts blocked in /etc/hosts before any download, opt-out variables, outbound connection log every 2 min' },
  { name: 'PARANOID_MODE', value: 'false', doc: 'secrets out of every environment, umask 077, no bytecode or shell history; token files, histories, temp and logs shredded at exit' },
  { name: 'KILN_USER', value: '', doc: 'run ComfyUI and the services as this non-root user (created when missing)' },
];

/** Names the env of a template may not set to a literal (they are secrets). */
const isSecretName = (name: string) => (SECRET_VARIABLES as readonly string[]).includes(name);

type PublishedPort = RunpodInput['ports'][number];

function portStrings(all: readonly PublishedPort[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  // http first (RunPod proxies them), then tcp; standard ports before the template's, each once.
  for (const proto of ['http', 'tcp'] as const) {
    for (const p of all) {
      const s = `${p.port}/${p.protocol}`;
      if (p.protocol === proto && !seen.has(s)) {
        seen.add(s);
        out.push(s);
      }
    }
  }
  return out;
}

function envObject(input: RunpodInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of RUNTIME_VARIABLES) env[v.name] = v.value;
  for (const [k, v] of Object.entries(input.env)) env[k] = isSecretName(k) ? secretRef(k) : v;
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function modelSource(m: ManifestModel): string {
  if (m.source === 'civitai') return `Civitai model version ${m.versionId ?? '?'}`;
  return m.url ? `<${m.url}>` : m.source;
}

function readme(input: RunpodInput, published: readonly PublishedPort[], ports: readonly string[], env: Readonly<Record<string, string>>): string {
  const lines: string[] = [];
  lines.push(`# ${input.template} (${input.gpu.title})`, '', input.description, '');
  lines.push(`Generated by \`kiln runpod ${input.template} --gpu ${input.gpu.name}\` from templates/${input.template}/template.ts.`, '');
  lines.push(`- Image: \`${input.imageName}\``);
  lines.push(`- GPU: ${input.gpu.title} (${input.gpu.sm}), CUDA ${input.gpu.cuda}, torch ${input.gpu.torch}`);
  lines.push(
    `- Host CUDA: ${allowedCudaVersions(input.gpu.cuda).join(', ')} (older drivers refuse the image). A template cannot restrict it: ` +
      `in the console choose these under Additional filters > CUDA Versions, or deploy with \`kiln runpod ${input.template} --gpu ${input.gpu.name} --pod --template-id <id> --deploy\`.`,
  );
  lines.push(`- Features: ${input.features.length > 0 ? input.features.join(', ') : 'none'}`);
  lines.push(`- Attention: ${input.attention || 'ComfyUI default'}`);
  lines.push(`- Disk: ${input.disk.containerGb} GB container, ${input.disk.volumeGb} GB volume at /workspace (models and outputs persist there)`, '');

  lines.push('## Models', '');
  if (input.models.length === 0) lines.push('None baked into the manifest.', '');
  else {
    lines.push('Downloaded at the first start into /workspace (resumable, sha256-verified).', '', '| folder/file | source |', '| --- | --- |');
    for (const m of input.models) lines.push(`| ${cell(`${m.into}/${m.file ?? '(name from the source)'}`)} | ${cell(modelSource(m))} |`);
    lines.push('');
  }

  lines.push('## Custom nodes', '');
  if (input.nodes.length === 0) lines.push('None besides ComfyUI-Manager.', '');
  else {
    for (const n of input.nodes) lines.push(`- [${n.name}](${n.repo})@${n.commit.slice(0, 7)}`);
    lines.push('');
  }

  lines.push('## Ports', '', '| port | service |', '| --- | --- |');
  const names = new Map(published.map((p) => [`${p.port}/${p.protocol}`, p.name]));
  for (const p of ports) lines.push(`| ${p} | ${cell(names.get(p) ?? '')} |`);
  lines.push('');

  lines.push('## Environment', '');
  lines.push(
    'Secrets are references to RunPod secrets (`{{ RUNPOD_SECRET_NAME }}`): create them under Settings > Secrets; the template never contains their values.',
    '',
    '| variable | default | meaning |',
    '| --- | --- | --- |',
  );
  const docs = new Map(RUNTIME_VARIABLES.map((v) => [v.name, v.doc]));
  for (const [k, v] of Object.entries(env)) lines.push(`| ${k} | ${v === '' ? '(empty)' : `\`${cell(v)}\``} | ${cell(docs.get(k) ?? 'set by the template')} |`);
  lines.push('');
  return lines.join('\n');
}

export function runpodTemplate(input: RunpodInput): RunpodTemplate {
  const published = [...standardPorts(input.env), ...input.ports];
  const ports = portStrings(published);
  const env = envObject(input);
  return {
    name: input.name ?? `kiln-${input.template}-${input.gpu.name}`,
    imageName: input.imageName,
    ports,
    env,
    containerDiskInGb: input.disk.containerGb,
    volumeInGb: input.disk.volumeGb,
    volumeMountPath: '/workspace',
    isServerless: false,
    isPublic: false,
    readme: readme(input, published, ports, env),
  };
}

export function renderRunpodJson(t: RunpodTemplate | RunpodPod): string {
  return `${JSON.stringify(t, null, 2)}\n`;
}
