/**
 * The compatibility matrix (DESIGN "Validation"), checked before anything is
 * written. Every problem names the file, the definition and the field, and
 * says how to fix it. Versions are compared with semver, never by regex.
 */
import semver from 'semver';
import type { Located, Project, TemplateSource } from '../dsl/load.ts';
import { FEATURE_NAMES, MODEL_FOLDERS, type BaseDefinition, type GpuDefinition, type ModelSource } from '../dsl/types.ts';
import { type DefinitionProblem, ValidationError } from '../errors.ts';
import { modelFileName } from './manifests.ts';
import { installs, nodeTargetName, SERVICE_PORTS } from './stages.ts';

const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const RESERVED = new Set(['default', 'base', 'base-common', 'torch', 'sage', 'flash', 'llama']);
const SECRET_ENV = /(TOKEN|PASSWORD|SECRET|API_KEY|APIKEY|PRIVATE_KEY)$/i;

/** xformers pins one exact torch (GPU-FACTS "xformers"); 0.0.34+ needs torch >= 2.10. */
const XFORMERS_TORCH: readonly [string, string][] = [
  ['0.0.30', '2.7.0'],
  ['0.0.31', '2.7.1'],
  ['0.0.32', '2.8.0'],
  ['0.0.33', '2.9.0'],
];

type Report = (field: string, problem: string, fix: string) => void;

function reporter(out: DefinitionProblem[], file: string, definition: string): Report {
  return (field, problem, fix) => out.push({ file, definition, field, problem, fix });
}

function version(v: string): semver.SemVer | null {
  return semver.coerce(v);
}

/** Throws ValidationError listing every problem; returns quietly when the project is sound. */
export function validateProject(project: Project): void {
  const problems: DefinitionProblem[] = [];
  if (project.bases.length !== 1) {
    problems.push({
      file: 'base/',
      definition: 'base',
      field: '(default export)',
      problem: `expected exactly one defineBase(...) under base/, found ${project.bases.length}${project.bases.length ? ` (${project.bases.map((b) => b.file).join(', ')})` : ''}`,
      fix: 'keep one base/common.ts exporting defineBase({...}); GPU profiles export defineGpu({...})',
    });
  } else {
    checkBase(project.bases[0]!, problems);
  }
  const gpuNames = new Map<string, string>();
  for (const g of project.gpus) {
    checkGpu(g, problems);
    const prev = gpuNames.get(g.def.name);
    if (prev) {
      reporter(problems, g.file, `gpu "${g.def.name}"`)('name', `the name is also used by ${prev}`, 'give every GPU profile a unique name');
    }
    gpuNames.set(g.def.name, g.file);
  }
  const templateNames = new Map<string, string>();
  for (const t of project.templates) {
    checkTemplate(t, gpuNames, problems);
    const prev = templateNames.get(t.def.name);
    if (prev) {
      reporter(problems, t.file, `template "${t.def.name}"`)('name', `the name is also used by ${prev}`, 'rename one of the templates');
    }
    templateNames.set(t.def.name, t.file);
  }
  checkNodeTargets(project, problems);
  if (problems.length > 0) throw new ValidationError(problems);
}

/** Each pinned node gets its own bake target; two different repos must not land on one name. */
function checkNodeTargets(project: Project, out: DefinitionProblem[]): void {
  const owners = new Map<string, { repo: string; where: string }>();
  for (const t of project.templates) {
    for (const [i, n] of (t.def.nodes ?? []).entries()) {
      if (typeof n.name !== 'string' || typeof n.commit !== 'string') continue;
      const target = nodeTargetName(n);
      const prev = owners.get(target);
      if (prev && prev.repo !== n.repo) {
        reporter(out, t.file, `template "${t.def.name}"`)(
          `nodes[${i}].name`,
          `"${n.name}" (${n.repo}) and ${prev.where} (${prev.repo}) would share the bake target ${target}`,
          'give one of them another folder name: node(repo, commit, { name: "..." })',
        );
      }
      if (!prev) owners.set(target, { repo: n.repo, where: `nodes "${n.name}" of template "${t.def.name}"` });
    }
  }
}

function checkPinned(report: Report, field: string, pin: { repo: string; commit: string } | undefined, what: string): void {
  if (!pin) return report(field, `${what} is missing`, `add ${field}: { repo: 'https://github.com/...', commit: '<40-hex SHA>' }`);
  if (!/^https:\/\/\S+$/.test(pin.repo)) report(`${field}.repo`, `"${pin.repo}" is not an https URL`, 'use the https clone URL of the repository');
  if (!SHA1.test(pin.commit)) {
    report(
      `${field}.commit`,
      `"${pin.commit}" is not a full 40-hex commit SHA (branches and short SHAs move or collide)`,
      `pin a commit: git ls-remote ${pin.repo} HEAD`,
    );
  }
}

function checkBase(b: Located<BaseDefinition>, out: DefinitionProblem[]): void {
  const report = reporter(out, b.file, 'base');
  const d = b.def;
  for (const field of ['toolchainApt', 'apt'] as const) {
    const list = d[field];
    if (!Array.isArray(list) || (field === 'toolchainApt' && list.length === 0)) {
      report(field, 'no apt packages', field === 'toolchainApt' ? 'list what the Python/compile chain needs (git, python3-venv, python3-dev, ...)' : 'give a list (it may be empty)');
      continue;
    }
    checkAptList(report, field, list);
  }
  for (const [n, v] of Object.entries(d.pipTools ?? {})) {
    if (!isExactVersion(v)) report(`pipTools.${n}`, `"${v}" is not an exact version`, `pin an exact version, e.g. ${n}: '25.1.1'`);
  }
  checkPinned(report, 'comfyui', d.comfyui, 'the ComfyUI pin');
  checkPinned(report, 'manager', d.manager, 'the ComfyUI-Manager pin');
  const fb = d.filebrowser;
  if (!fb?.version || !fb.version.startsWith('v') || !semver.valid(fb.version)) {
    report('filebrowser.version', `"${fb?.version ?? ''}" is not a release tag`, "use the tag of a FileBrowser release, e.g. version: 'v2.59.0'");
  }
  if (!SHA256.test(fb?.sha256 ?? '')) {
    report('filebrowser.sha256', `"${fb?.sha256 ?? ''}" is not 64 lowercase hex digits`, 'sha256sum the linux-amd64-filebrowser.tar.gz of that release');
  }
  if (Array.isArray(d.apt) && Array.isArray(d.toolchainApt) && !installs([...d.toolchainApt, ...d.apt], 'curl')) {
    report('apt', 'has no curl, which installs FileBrowser', "add 'curl' to apt");
  }
  if (!isExactVersion(d.jupyterlab)) {
    report('jupyterlab', `"${d.jupyterlab ?? ''}" is not an exact version`, "pin an exact version, e.g. jupyterlab: '4.4.9'");
  }
}

function checkAptList(report: Report, field: string, list: readonly string[]): void {
  if (!Array.isArray(list)) return report(field, 'is not a list', `write ${field}: ['package', ...]`);
  const seen = new Set<string>();
  for (const [i, p] of list.entries()) {
    if (!/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/.test(p)) report(`${field}[${i}]`, `"${p}" is not a Debian package name`, 'use a package name such as "python3-venv" (optionally =version)');
    if (seen.has(p)) report(`${field}[${i}]`, `"${p}" is listed twice`, 'list each package once');
    seen.add(p);
  }
}

/** PEP 508 distribution names. */
const PIP_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
/** Pinned per GPU profile (torch, its index and the wheels that pin one torch). */
const TORCH_FAMILY = new Set(['torch', 'torchvision', 'torchaudio', 'xformers', 'triton']);

/** One PEP 440 release: 1.22.0, 0.0.32.post1, 2.0rc1 (no ranges, no wildcards). */
function isPep440Exact(v: unknown): boolean {
  return typeof v === 'string' && /^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$/.test(v);
}

/** A pip pin: semver, or dotted numbers such as "25.0" or "1.11.1.4". */
function isExactVersion(v: unknown): boolean {
  return typeof v === 'string' && (semver.valid(v) !== null || /^\d+(\.\d+)*$/.test(v));
}

/** "12.0" for sm 120, "8.9" for sm 89. */
export function smToArch(sm: number): string {
  return `${Math.floor(sm / 10)}.${sm % 10}`;
}

function checkGpu(g: Located<GpuDefinition>, out: DefinitionProblem[]): void {
  const d = g.def;
  const report = reporter(out, g.file, `gpu "${d.name}"`);
  if (!NAME.test(d.name ?? '')) report('name', `"${d.name}" is not a lowercase name`, 'use letters and digits, e.g. "rtx5090"');
  if (!Number.isInteger(d.sm) || d.sm < 50 || d.sm > 200) report('sm', `${d.sm} is not a compute capability`, 'write the integer form: 89 for sm_89, 120 for sm_120');
  const cuda = version(d.cuda ?? '');
  if (!cuda) report('cuda', `"${d.cuda}" is not a CUDA version`, 'use the base image version, e.g. "12.8.1"');
  const arch = smToArch(d.sm);

  // Blackwell consumer parts: CUDA >= 12.8, torch >= 2.7 from a cu128+ index (GPU-FACTS).
  if (d.sm >= 120 && cuda && semver.lt(cuda, '12.8.0')) {
    report('cuda', `sm_${d.sm} needs CUDA >= 12.8, got ${d.cuda}`, 'use an nvidia/cuda 12.8.1 (or newer) base image');
  }
  const torch = version(d.torch?.torch ?? '');
  if (!torch) report('torch.torch', `"${d.torch?.torch}" is not a torch version`, 'pin torch, e.g. "2.7.1"');
  const indexCu = /\/cu(\d+)\/?$/.exec(d.torch?.index ?? '');
  if (!indexCu) {
    report('torch.index', `"${d.torch?.index}" is not a PyTorch CUDA wheel index`, 'use https://download.pytorch.org/whl/cu128');
  } else if (d.sm >= 120 && Number(indexCu[1]) < 128) {
    report('torch.index', `sm_${d.sm} is not in the cu${indexCu[1]} wheels' arch list (pytorch #150733)`, 'use the cu128 index (or newer)');
  }
  if (d.sm >= 120 && torch && semver.lt(torch, '2.7.0')) {
    report('torch.torch', `sm_${d.sm} needs torch >= 2.7 (first release with Blackwell), got ${d.torch.torch}`, 'pin torch 2.7.1 or newer');
  }
  if (torch) {
    const tv = version(d.torch.torchvision ?? '');
    if (!tv || tv.major !== 0 || tv.minor !== torch.minor + 15) {
      report('torch.torchvision', `torchvision ${d.torch.torchvision} does not pair with torch ${d.torch.torch}`, `use torchvision 0.${torch.minor + 15}.${torch.patch}`);
    }
    const ta = version(d.torch.torchaudio ?? '');
    if (!ta || ta.major !== torch.major || ta.minor !== torch.minor) {
      report('torch.torchaudio', `torchaudio ${d.torch.torchaudio} does not pair with torch ${d.torch.torch}`, `use torchaudio ${torch.major}.${torch.minor}.${torch.patch}`);
    }
    const xf = version(d.torch.xformers ?? '');
    const want = xf && XFORMERS_TORCH.find(([x]) => semver.eq(xf, x))?.[1];
    const ok = xf && (want ? semver.eq(torch, want) : semver.gte(xf, '0.0.34') && semver.gte(torch, '2.10.0'));
    if (d.torch.xformers !== undefined && !ok) {
      report(
        'torch.xformers',
        `xformers ${d.torch.xformers} is built against ${want ? `torch ${want}` : 'another torch'}, not ${d.torch.torch}`,
        `pair them as in GPU-FACTS: ${XFORMERS_TORCH.map(([x, t]) => `${x}->${t}`).join(', ')}`,
      );
    }
  }

  // SageAttention: exactly the GPU's arch; 9.0 next to 12.0 breaks ptxas (thu-ml/SageAttention#291).
  checkPinned(report, 'sage', d.sage, 'the SageAttention pin');
  const sageArchs = (d.sage?.torchCudaArchList ?? '').split(/[;\s]+/).filter(Boolean);
  if (sageArchs.length !== 1 || sageArchs[0] !== arch) {
    report('sage.torchCudaArchList', `"${d.sage?.torchCudaArchList}" must be exactly this GPU's arch "${arch}" (one arch per build; never 9.0 with 12.0)`, `set torchCudaArchList: '${arch}'`);
  }

  // FlashAttention reads FLASH_ATTN_CUDA_ARCHS; sm_8x parts run its sm_80 code.
  const flashWant = d.sm >= 100 ? String(d.sm) : d.sm >= 80 ? '80' : null;
  if (d.flash?.cudaArchs !== flashWant) {
    report('flash.cudaArchs', `"${d.flash?.cudaArchs}" is not FlashAttention's arch for sm_${d.sm}`, flashWant ? `set cudaArchs: '${flashWant}'` : 'FlashAttention 2 needs sm_80 or newer');
  }
  const flashTag = version(d.flash?.tag ?? '');
  if (!/^v\d+\.\d+\.\d+(\.post\d+)?$/.test(d.flash?.tag ?? '') || !flashTag) {
    report('flash.tag', `"${d.flash?.tag}" is not a release tag`, 'pin a FlashAttention release tag such as "v2.8.3"');
  } else if (d.sm >= 120 && semver.lt(flashTag, '2.7.3')) {
    report('flash.tag', `FlashAttention builds for sm_${d.sm} from v2.7.3 on, got ${d.flash.tag}`, 'use v2.7.3 or newer');
  }

  // llama.cpp: CMAKE_CUDA_ARCHITECTURES is the integer form; tags are b<number>.
  if (d.llama?.cudaArchitectures !== String(d.sm)) {
    report('llama.cudaArchitectures', `"${d.llama?.cudaArchitectures}" is not this GPU's arch`, `set cudaArchitectures: '${d.sm}'`);
  }
  if (!/^b\d+$/.test(d.llama?.tag ?? '')) {
    report('llama.tag', `"${d.llama?.tag}" is not a llama.cpp release tag`, 'pin a release tag such as "b8508"');
  }
  for (const [k, v] of Object.entries(d.compile ?? {})) {
    if (!Number.isInteger(v) || (v as number) < 1) report(`compile.${k}`, `${String(v)} is not a positive integer`, `set compile.${k} to a whole number >= 1`);
  }
}

function modelPinned(m: ModelSource): boolean {
  if (m.sha256) return true;
  return m.source === 'hf' && SHA1.test(m.revision ?? '');
}

function checkTemplate(t: TemplateSource, gpus: Map<string, string>, out: DefinitionProblem[]): void {
  const d = t.def;
  const report = reporter(out, t.file, `template "${d.name}"`);
  if (!NAME.test(d.name ?? '')) report('name', `"${d.name}" is not a lowercase, dash-separated name`, 'use e.g. "sd15-basic"');
  else if (RESERVED.has(d.name) || gpus.has(d.name)) report('name', `"${d.name}" collides with a stage or GPU name`, 'choose another name');
  if (d.name !== t.folder) report('name', `"${d.name}" differs from its folder templates/${t.folder}/`, `rename the folder or set name: '${t.folder}'`);
  if (!d.description?.trim()) report('description', 'is empty', 'say in one line what the image is for');

  if (!Array.isArray(d.gpus) || d.gpus.length === 0) report('gpus', 'no GPU listed', "import GPU profiles from base/ and list them, e.g. gpus: [rtx4090, rtx5090]");
  const seenGpu = new Set<string>();
  for (const [i, g] of (d.gpus ?? []).entries()) {
    const name = (g as { name?: string } | undefined)?.name;
    if (!name || !gpus.has(name)) report(`gpus[${i}]`, `"${name ?? String(g)}" is not a GPU profile under base/`, `use one of: ${[...gpus.keys()].join(', ')}`);
    else if (seenGpu.has(name)) report(`gpus[${i}]`, `"${name}" is listed twice`, 'list each GPU once');
    if (name) seenGpu.add(name);
  }

  const features = (d.features ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(features)) {
    if (!(FEATURE_NAMES as readonly string[]).includes(k)) report(`features.${k}`, `unknown feature "${k}"`, `use one of: ${FEATURE_NAMES.join(', ')}`);
    else if (typeof v !== 'boolean') report(`features.${k}`, `must be true or false, got ${JSON.stringify(v)}`, `write features: { ${k}: true }`);
  }
  if ((d.attention === 'sage' || d.attention === 'flash') && features[d.attention] !== true) {
    report('attention', `"${d.attention}" is not built into this image`, `enable features.${d.attention} or drop attention`);
  }

  const dest = new Map<string, number>();
  for (const [i, m] of (d.models ?? []).entries()) {
    const f = `models[${i}]`;
    if (!(MODEL_FOLDERS as readonly string[]).includes(m.into)) report(`${f}.into`, `"${m.into}" is not a ComfyUI model folder`, `use one of: ${MODEL_FOLDERS.join(', ')}`);
    if (m.sha256 !== undefined && !SHA256.test(m.sha256)) report(`${f}.sha256`, `"${m.sha256}" is not 64 lowercase hex digits`, 'copy the SHA256 from the file page (lowercase)');
    if (m.bytes !== undefined && (!Number.isInteger(m.bytes) || m.bytes <= 0)) report(`${f}.bytes`, `${m.bytes} is not a positive size`, 'give the size in bytes or leave it out');
    if (m.source === 'hf') {
      if (!/^[\w.-]+\/[\w.-]+$/.test(m.repo)) report(`${f}.repo`, `"${m.repo}" is not an "owner/name" Hugging Face repo`, 'write hf("owner/name", "path/in/repo.safetensors", {...})');
      if (m.revision !== undefined && !SHA1.test(m.revision)) report(`${f}.revision`, `"${m.revision}" is not a 40-hex commit`, 'use the commit SHA from the repo history, or leave it out and give sha256');
    } else if (m.source === 'civitai') {
      if (!Number.isInteger(m.versionId) || m.versionId <= 0) report(`${f}.versionId`, `${m.versionId} is not a CivitAI model version id`, 'use the number after modelVersionId= in the CivitAI URL');
    } else if (m.source === 'url') {
      if (!/^https:\/\/\S+$/.test(m.href)) report(`${f}.href`, `"${m.href}" is not an https URL`, 'use an https download URL');
    } else {
      report(`${f}.source`, `unknown model source`, 'create models with hf(), civitai() or url()');
      continue;
    }
    if (!modelPinned(m) && d.allowUnpinnedModels !== true) {
      report(`${f}`, 'is not pinned: no sha256 and no commit revision', 'add sha256 (and bytes), or a revision commit, or set allowUnpinnedModels: true on the template');
    }
    const file = modelFileName(m);
    if (file !== null) {
      const path = `${m.into}/${file}`;
      const prev = dest.get(path);
      if (prev !== undefined) report(`${f}`, `writes ${path}, as models[${prev}] does`, 'give one of them another file name with { as: "..." }');
      dest.set(path, i);
    }
  }

  const nodeNames = new Map<string, number>();
  for (const [i, n] of (d.nodes ?? []).entries()) {
    const f = `nodes[${i}]`;
    checkPinned(report, f, n, 'the node');
    if (!/^[A-Za-z0-9_.-]+$/.test(n.name ?? '') || /^\.+$/.test(n.name) || n.name === 'ComfyUI-Manager') {
      report(`${f}.name`, `"${n.name}" cannot be a custom_nodes folder`, 'use letters, digits, "-", "_" or "."; ComfyUI-Manager is in the base already');
    }
    const prev = nodeNames.get(n.name);
    if (prev !== undefined) report(`${f}.name`, `"${n.name}" is also nodes[${prev}]`, 'list each node once (or give one a different name)');
    nodeNames.set(n.name, i);
  }

  checkAptList(report, 'apt', d.apt ?? []);
  for (const [n, v] of Object.entries(d.pip ?? {})) {
    if (!PIP_NAME.test(n)) report(`pip.${n}`, `"${n}" is not a Python distribution name`, 'use the name pip installs, e.g. "onnxruntime-gpu"');
    else if (TORCH_FAMILY.has(n.toLowerCase().replace(/_/g, '-'))) {
      report(`pip.${n}`, `${n} belongs to the GPU profile (it pins the torch family per GPU)`, `remove it here; change torch in the GPU files under base/`);
    }
    if (!isPep440Exact(v)) report(`pip.${n}`, `"${String(v)}" is not an exact version`, `pin one release, e.g. '${n}': '1.22.0'`);
  }
  for (const [i, a] of (d.allowConflicts ?? []).entries()) {
    const f = `allowConflicts[${i}]`;
    if (!PIP_NAME.test(a?.package ?? '')) report(`${f}.package`, `"${a?.package ?? ''}" is not a Python distribution name`, 'copy the package name from the pip check line');
    if (!a?.requirement?.trim()) report(`${f}.requirement`, 'is empty', 'copy the requirement as pip check prints it, e.g. "numpy<2"');
    if (!a?.reason?.trim()) report(`${f}.reason`, 'is empty', 'say why the image still works with this conflict');
  }

  for (const [k, v] of Object.entries(d.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) report(`env.${k}`, 'is not a valid variable name', 'use letters, digits and _');
    else if (SECRET_ENV.test(k) && v !== '') report(`env.${k}`, 'looks like a secret; secrets are never baked into images', 'remove it; set it on the pod (RunPod secrets) instead');
  }
  const ports = new Set<number>(Object.values(SERVICE_PORTS));
  for (const [i, p] of (d.ports ?? []).entries()) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) report(`ports[${i}].port`, `${p.port} is not a port`, 'use 1-65535');
    else if (ports.has(p.port)) report(`ports[${i}].port`, `${p.port} is already used (${Object.entries(SERVICE_PORTS).map(([n, p]) => `${p} ${n}`).join(', ')}, or listed twice)`, 'pick a free port');
    ports.add(p.port);
  }
}
