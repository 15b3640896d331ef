/**
 * Names in the bake file's one namespace: groups (`default`, one per template,
 * one per GPU) and targets (stages `<kind>-<gpu>`, `base-common-<cuda>`,
 * `node-<name>-<commit7>`, images `<template>-<gpu>`). bake cannot tell a group
 * from a target of the same name, so template and GPU names must not collide
 * with any of them, now or when a feature or GPU is added later.
 */
import { FEATURE_NAMES } from '../dsl/types.ts';
import { cudaSlug, nodeTargetName } from './stages.ts';
import type { TargetKind } from './types.ts';

/** Lowercase, dash-separated: template and GPU names become target and image names. */
export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Shared stages: every kind of target but the template images. */
export const STAGE_KINDS = ['base-common', 'devel', 'torch', 'base', 'sage', 'flash', 'llama', 'node'] as const satisfies readonly TargetKind[];
// tsc fails here when a target kind is added to types.ts but not to STAGE_KINDS.
const allStages: Exclude<TargetKind, 'template'> extends (typeof STAGE_KINDS)[number] ? true : never = true;
void allStages;

/** Why `name` cannot name a template or a GPU whatever else is defined, or null. */
export function reservedName(name: string): string | null {
  if (name === 'default') return 'is the group bake builds when given no target';
  if ((FEATURE_NAMES as readonly string[]).includes(name)) return `is a feature name (and its ${name}-<gpu> stage)`;
  if ((STAGE_KINDS as readonly string[]).includes(name)) return `is a stage of every build graph (${name}-<gpu> targets)`;
  const prefix = STAGE_KINDS.find((k) => name.startsWith(`${k}-`));
  if (prefix) return `starts with "${prefix}-", the prefix of the ${prefix === 'base-common' || prefix === 'devel' ? `${prefix}-<cuda>` : `${prefix}-<gpu>`} stages`;
  return null;
}

/** Who owns a name, as messages say it. */
export interface NameOwner {
  /** e.g. `the target torch-rtx5090 (torch stage of GPU "rtx5090")`. */
  readonly what: string;
  /** Set for names a definition chose (a template or GPU name); unset for names Kiln derives. */
  readonly chosenBy?: { readonly kind: 'template' | 'gpu'; readonly name: string };
}

export interface NamedGpu {
  readonly name: string;
  readonly cuda: string;
}

export interface NamedTemplate {
  readonly name: string;
  readonly gpus: readonly string[];
  readonly nodes: readonly { readonly name: string; readonly commit: string }[];
}

/**
 * Every group and target name the graph of these definitions can have (all
 * stages of every GPU, used or not), in the order they are claimed: derived
 * names first, then each GPU's group, then each template's group and images.
 * Returns the clashes: a later claim of a name already taken.
 */
export function nameClashes(gpus: readonly NamedGpu[], templates: readonly NamedTemplate[]): { name: string; owner: NameOwner; taken: NameOwner }[] {
  const taken = new Map<string, NameOwner>();
  const clashes: { name: string; owner: NameOwner; taken: NameOwner }[] = [];
  const claim = (name: string, owner: NameOwner): void => {
    const prev = taken.get(name);
    if (prev) clashes.push({ name, owner, taken: prev });
    else taken.set(name, owner);
  };
  claim('default', { what: 'the default group' });
  for (const g of gpus) {
    claim(`base-common-${cudaSlug(g.cuda)}`, { what: `the target base-common-${cudaSlug(g.cuda)} (CUDA ${g.cuda})` });
    for (const k of ['torch', 'base', 'sage', 'flash', 'llama'] as const) {
      claim(`${k}-${g.name}`, { what: `the target ${k}-${g.name} (${k} stage of GPU "${g.name}")`, chosenBy: { kind: 'gpu', name: g.name } });
    }
  }
  // One checkout target serves every template that pins the node (checkNodeTargets guards against two repos on one name).
  const checkouts = new Map<string, string>();
  for (const t of templates) for (const n of t.nodes) if (!checkouts.has(nodeTargetName(n))) checkouts.set(nodeTargetName(n), `custom node ${n.name} of template "${t.name}"`);
  for (const [name, what] of checkouts) claim(name, { what: `the target ${name} (${what})` });
  for (const g of gpus) claim(g.name, { what: `the group ${g.name} (GPU "${g.name}")`, chosenBy: { kind: 'gpu', name: g.name } });
  for (const t of templates) {
    claim(t.name, { what: `the group ${t.name} (template "${t.name}")`, chosenBy: { kind: 'template', name: t.name } });
    for (const g of t.gpus) claim(`${t.name}-${g}`, { what: `the target ${t.name}-${g} (template "${t.name}" on ${g})`, chosenBy: { kind: 'template', name: t.name } });
  }
  return clashes;
}
