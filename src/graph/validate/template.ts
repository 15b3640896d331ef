/** Templates (templates/<name>/template.ts): name, GPUs, features, models, nodes, env, ports. */
import type { Located, TemplateSource } from '../../dsl/load.ts';
import { NODE_OPTIONS, NODE_SHAPE, TEMPLATE_SHAPE } from '../../dsl/schema.ts';
import type { GpuDefinition, TemplateDefinition } from '../../dsl/types.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { canonicalJson } from '../keys.ts';
import { NAME_PATTERN, reservedName } from '../names.ts';
import { checkAptList } from './base.ts';
import { checkEnv, checkPorts } from './env.ts';
import { checkPinned } from './gpu.ts';
import { checkModels, checkUserModels } from './models.ts';
import { given, label, reporter, shown, type Report } from './report.ts';
import { checkHelperItem, checkShape } from './strict.ts';
import { checkExact } from './versions.ts';

const ATTENTION = ['sage', 'flash', 'pytorch'] as const;

export interface TemplateCheckOptions {
  /** Validation for `kiln lock`: pins that the lock provides are not required yet. @default false */
  readonly forLock?: boolean;
}

export function checkTemplate(t: TemplateSource, gpus: ReadonlyMap<string, Located<GpuDefinition>>, out: DefinitionProblem[], o: TemplateCheckOptions = {}): void {
  const d = t.def;
  const report = reporter(out, t.file, label('template', d));
  checkShape(d, TEMPLATE_SHAPE, report, { path: '', owner: 'defineTemplate', stamped: ['kind'] });
  if (given(d.name)) {
    const reserved = reservedName(d.name);
    if (!NAME_PATTERN.test(d.name)) report('name', `"${d.name}" is not a lowercase, dash-separated name`, 'use e.g. "sd15-basic"');
    else if (reserved) report('name', `"${d.name}" ${reserved}`, 'choose another name (kiln new refuses these too)');
    else if (gpus.has(d.name)) report('name', `"${d.name}" collides with the GPU profile of that name (${gpus.get(d.name)!.file}): both would be the group ${d.name}`, 'choose another name');
    if (d.name !== t.folder) report('name', `"${d.name}" differs from its folder templates/${t.folder}/`, `rename the folder or set name: '${t.folder}'`);
  }
  if (d.description !== undefined && !String(d.description).trim()) report('description', 'is empty', 'say in one line what the image is for');

  if (Array.isArray(d.gpus) && d.gpus.length === 0) report('gpus', 'no GPU listed', 'import GPU profiles from base/ and list them, e.g. gpus: [rtx4090, rtx5090]');
  const seenGpu = new Set<string>();
  for (const [i, g] of (Array.isArray(d.gpus) ? d.gpus : []).entries()) {
    const name = (g as { name?: unknown } | undefined)?.name;
    const known = typeof name === 'string' ? gpus.get(name) : undefined;
    if (!known) report(`gpus[${i}]`, `${shown(name ?? g)} is not a GPU profile under base/`, `use one of: ${[...gpus.keys()].join(', ')}`);
    else if (seenGpu.has(known.def.name)) report(`gpus[${i}]`, `"${known.def.name}" is listed twice`, 'list each GPU once');
    else if (canonicalJson(g) !== canonicalJson(known.def)) {
      // Kiln builds the profile in base/; a look-alike defined elsewhere would be silently ignored.
      report(
        `gpus[${i}]`,
        `"${known.def.name}" here is not the profile defined in ${known.file} (a GPU redefined under an existing name)`,
        `import ${known.def.name} from '../../${known.file}' and change the profile there, or give the variant its own name in its own file under base/`,
      );
    }
    if (known) seenGpu.add(known.def.name);
  }

  const features = (d.features ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(features)) if (typeof v !== 'boolean') report(`features.${k}`, `must be true or false, got ${shown(v)}`, `write features: { ${k}: true }`);
  if (d.attention !== undefined && !(ATTENTION as readonly string[]).includes(d.attention)) {
    report('attention', `${shown(d.attention)} is not an attention backend`, `use one of: ${ATTENTION.join(', ')}`);
  } else if ((d.attention === 'sage' || d.attention === 'flash') && features[d.attention] !== true) {
    report('attention', `"${d.attention}" is not built into this image`, `enable features.${d.attention} or drop attention`);
  }

  const forLock = o.forLock === true;
  const dest = checkModels(d, report, { lock: forLock ? null : (t.lock?.lock ?? null), forLock });
  checkUserModels(d, report, dest);

  const nodeNames = new Map<string, number>();
  for (const [i, n] of (d.nodes ?? []).entries()) {
    const f = `nodes[${i}]`;
    checkHelperItem(n, { options: NODE_OPTIONS, literal: NODE_SHAPE, name: 'node()' }, report, `${f}.`);
    checkPinned(report, f, n);
    if (typeof n.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(n.name) || /^\.+$/.test(n.name) || n.name === 'ComfyUI-Manager') {
      report(`${f}.name`, `${shown(n.name)} cannot be a custom_nodes folder`, 'use letters, digits, "-", "_" or "."; ComfyUI-Manager is in the base already');
    }
    if (typeof n.requirements !== 'boolean') report(`${f}.requirements`, `must be true or false, got ${shown(n.requirements)}`, 'write { requirements: false } to skip requirements.txt, or leave it out');
    const prev = nodeNames.get(n.name);
    if (prev !== undefined) report(`${f}.name`, `"${n.name}" is also nodes[${prev}]`, 'list each node once (or give one a different name)');
    nodeNames.set(n.name, i);
  }

  checkPackages(d, report);
  checkEnv(d, report);
  checkPorts(d, report);
  for (const k of ['containerGb', 'volumeGb'] as const) {
    const v = d.disk?.[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) report(`disk.${k}`, `${shown(v)} is not a size in whole GB`, `write ${k}: 40`);
  }
}

/** Pinned per GPU profile (torch, its index, and the wheels that pin one torch). */
const TORCH_FAMILY = new Set(['torch', 'torchvision', 'torchaudio', 'xformers', 'triton']);
/** PEP 508 distribution names. */
const DIST_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const normalized = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

/** The template's own apt and pip packages, and the pip check conflicts it allows. */
function checkPackages(d: TemplateDefinition, report: Report): void {
  if (d.apt !== undefined) {
    if (!Array.isArray(d.apt)) report('apt', `${shown(d.apt)} is not a list`, "write apt: ['libsndfile1']");
    else checkAptList(report, 'apt', d.apt);
  }
  if (d.pip !== undefined && (typeof d.pip !== 'object' || d.pip === null || Array.isArray(d.pip))) {
    report('pip', `${shown(d.pip)} is not an object of package: version`, "write pip: { 'onnxruntime-gpu': '1.22.0' }");
  } else {
    for (const [n, v] of Object.entries(d.pip ?? {})) {
      if (!DIST_NAME.test(n)) report(`pip.${n}`, `"${n}" is not a Python distribution name`, 'use the name pip installs, e.g. "onnxruntime-gpu"');
      else if (TORCH_FAMILY.has(normalized(n))) report(`pip.${n}`, `${n} belongs to the GPU profile, which pins the torch family per GPU`, 'remove it here; change torch in the GPU files under base/');
      checkExact(report, `pip.${n}`, v, `'${n}': '1.22.0'`, { pip: true });
    }
  }
  if (d.cudaDevel !== undefined && typeof d.cudaDevel?.reason === 'string' && !d.cudaDevel.reason.trim()) {
    report('cudaDevel.reason', 'is empty', 'say which node compiles CUDA code when its requirements install: the toolkit adds gigabytes to every pull');
  }
  for (const [i, a] of (Array.isArray(d.allowConflicts) ? d.allowConflicts : []).entries()) {
    const f = `allowConflicts[${i}]`;
    if (typeof a?.package === 'string' && !DIST_NAME.test(a.package)) report(`${f}.package`, `${shown(a.package)} is not a Python distribution name`, 'copy the package name from the pip check line');
    if (typeof a?.requirement === 'string' && !a.requirement.trim()) report(`${f}.requirement`, 'is empty', 'copy the requirement as pip check prints it, e.g. "numpy<2"');
    if (typeof a?.reason === 'string' && !a.reason.trim()) report(`${f}.reason`, 'is empty', 'say why the image still works with this conflict');
  }
}
