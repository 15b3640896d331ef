import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KilnError } from '../errors.ts';
import { LOCK_FILE, readLock, type LockRead } from './lock.ts';
import type { BaseDefinition, GpuDefinition, TemplateDefinition } from './types.ts';
import { readWorkflow, type Workflow } from './workflows.ts';

/** A definition and the file it was loaded from (repo-relative, for error messages). */
export interface Located<T> {
  readonly def: T;
  readonly file: string;
}

/** A file that is copied into an image, identified by content. */
export interface FileDigest {
  /** Path relative to the directory it is copied from. */
  readonly path: string;
  readonly sha256: string;
}

/** A workflow file of a template, read (src/dsl/workflows.ts) for validation. */
export interface WorkflowFile extends FileDigest {
  readonly workflow: Workflow;
}

/** A workflow file from its text (tests, tools). */
export function workflowFile(path: string, text: string): WorkflowFile {
  return { path, sha256: sha256(text), workflow: readWorkflow(text) };
}

export interface TemplateSource extends Located<TemplateDefinition> {
  /** Name of the folder under templates/. */
  readonly folder: string;
  /** templates/<folder>/workflows/*.json, sorted. Empty when there is none. */
  readonly workflows: readonly WorkflowFile[];
  /** templates/<folder>/models.lock.json (written by `kiln lock`), read; null when there is none. */
  readonly lock: LockSource | null;
}

/** A template's lock file and what was read from it. */
export interface LockSource extends LockRead {
  /** Repo-relative path, for messages. */
  readonly file: string;
}

/** A lock file from its text (tests, tools). */
export function lockSource(file: string, text: string): LockSource {
  return { file, ...readLock(text) };
}

/** Everything the graph is resolved from. */
export interface Project {
  readonly root: string;
  readonly bases: readonly Located<BaseDefinition>[];
  readonly gpus: readonly Located<GpuDefinition>[];
  readonly templates: readonly TemplateSource[];
  /** scripts/, copied into every image as the runtime. */
  readonly runtime: readonly FileDigest[];
}

export interface LoadOptions {
  /** Notes on what the loader skipped and why (KILN_DEBUG=1). @default none */
  readonly debug?: (line: string) => void;
}

/** Load base/*.ts and templates/<name>/template.ts under `root`. */
export async function loadProject(root: string, options: LoadOptions = {}): Promise<Project> {
  const bases: Located<BaseDefinition>[] = [];
  const gpus: Located<GpuDefinition>[] = [];
  for (const name of listDir(join(root, 'base')).filter((f) => f.endsWith('.ts'))) {
    const file = join('base', name);
    const value = await importDefault(root, file);
    if (isKind(value, 'base')) bases.push({ def: value as BaseDefinition, file });
    else if (isKind(value, 'gpu')) gpus.push({ def: value as GpuDefinition, file });
    else throw new KilnError(`${file}: the default export must be defineBase(...) or defineGpu(...)`);
  }
  const templates: TemplateSource[] = [];
  for (const folder of listDir(join(root, 'templates'))) {
    // A README.md, an editor's or Finder's droppings (.DS_Store) or a hidden folder is not a template.
    if (folder.startsWith('.') || !statSync(join(root, 'templates', folder)).isDirectory()) {
      options.debug?.(`templates/${folder}: not a template folder, ignored`);
      continue;
    }
    const file = join('templates', folder, 'template.ts');
    if (!existsSync(join(root, file))) {
      throw new KilnError(`templates/${folder}/: no template.ts. Every template folder needs one (scaffold with \`kiln new ${folder}\`).`);
    }
    const value = await importDefault(root, file);
    if (!isKind(value, 'template')) {
      throw new KilnError(`${file}: the default export must be defineTemplate(...)`);
    }
    // Top-level *.json only: the template Dockerfile copies exactly `*.json` from this folder.
    const wfDir = join(root, 'templates', folder, 'workflows');
    const workflows = digestDir(wfDir, (path) => !path.includes('/') && path.endsWith('.json')).map(
      (f): WorkflowFile => ({ ...f, workflow: readWorkflow(readFileSync(join(wfDir, f.path), 'utf8')) }),
    );
    const lockFile = join('templates', folder, LOCK_FILE);
    const lock = existsSync(join(root, lockFile)) ? lockSource(lockFile, readFileSync(join(root, lockFile), 'utf8')) : null;
    templates.push({ def: value as TemplateDefinition, file, folder, workflows, lock });
  }
  return { root, bases, gpus, templates, runtime: digestDir(join(root, 'scripts')) };
}

async function importDefault(root: string, file: string): Promise<unknown> {
  try {
    const mod = (await import(pathToFileURL(join(root, file)).href)) as { default?: unknown };
    return mod.default;
  } catch (err) {
    throw new KilnError(`${file}: could not be loaded: ${(err as Error).message}`);
  }
}

function isKind(value: unknown, kind: string): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === kind;
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/**
 * What a local context never sends: Python bytecode caches (local artefacts,
 * not sources) and the ignore file itself. scripts/.dockerignore says the same
 * to buildx (which reads a `.dockerignore` at the root of a named local
 * context), so the digests below key exactly the files the image gets.
 */
export const CONTEXT_IGNORES = ['**/__pycache__', '**/*.pyc', '.dockerignore'] as const;
const ignored = (name: string, atRoot: boolean): boolean =>
  name === '__pycache__' || name.endsWith('.pyc') || (atRoot && name === '.dockerignore');

/**
 * Content digests of every file below `dir` but CONTEXT_IGNORES, sorted by path
 * (deterministic keys). `keep` sees the '/'-separated path relative to `dir`.
 */
export function digestDir(dir: string, keep: (path: string) => boolean = () => true): FileDigest[] {
  if (!existsSync(dir)) return [];
  const out: FileDigest[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (ignored(name, d === dir)) continue;
      if (statSync(full).isDirectory()) {
        walk(full);
        continue;
      }
      const path = relative(dir, full).split('\\').join('/');
      if (keep(path)) out.push({ path, sha256: sha256(readFileSync(full)) });
    }
  };
  walk(dir);
  return out;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
