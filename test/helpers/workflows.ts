/**
 * The repository's GitHub Actions files, parsed (the `yaml` package, with
 * line numbers), for the structural and lint tests of the workflows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { repoRoot } from './fixtures.ts';

export const workflowDir = join(repoRoot, '.github/workflows');
export const workflowFiles = readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f)).sort();
export const actionFiles = readdirSync(join(repoRoot, '.github/actions'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => `.github/actions/${d.name}/action.yml`)
  .sort();
/** Every file that holds `uses:` or `run:` steps, repo-relative. */
export const stepFiles = [...workflowFiles.map((f) => `.github/workflows/${f}`), ...actionFiles];

export const readRepo = (rel: string) => readFileSync(join(repoRoot, rel), 'utf8');
export const readWorkflow = (f: string) => readRepo(`.github/workflows/${f}`);

export interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly if?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly shell?: string;
  readonly with?: Record<string, string>;
  readonly env?: Record<string, string>;
}

export interface Job {
  readonly needs?: string | string[];
  readonly if?: string;
  readonly permissions?: Record<string, string> | string;
  readonly env?: Record<string, string>;
  readonly steps: Step[];
  readonly [key: string]: unknown;
}

export interface Workflow {
  readonly on: unknown;
  readonly permissions?: Record<string, string> | string;
  readonly concurrency?: { group: string; 'cancel-in-progress': string | boolean };
  readonly defaults?: { run?: { shell?: string } };
  readonly jobs: Record<string, Job>;
}

export const parseWorkflow = (text: string) => parseDocument(text).toJS() as Workflow;
export const workflow = (f: string) => parseWorkflow(readWorkflow(f));
export const action = (rel: string) => parseDocument(readRepo(rel)).toJS() as { runs: { steps: Step[] } };

/** A `run:` script with where it is, for shellcheck. */
export interface RunScript {
  readonly file: string;
  /** "job build, step 3 (Bake ...)" */
  readonly where: string;
  readonly script: string;
  /** File line of the script's first line. */
  readonly line: number;
  readonly shell: string;
}

/** Every `run:` of a workflow or composite action text, with the shell it runs under. */
export function runScripts(file: string, text: string): RunScript[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const js = doc.toJS() as Workflow & { runs?: { steps: Step[] } };
  const out: RunScript[] = [];
  const visit = (steps: Node | null | undefined, owner: string, defaultShell: string) => {
    if (!isSeq(steps)) return;
    steps.items.forEach((item, i) => {
      if (!isMap(item)) return;
      const run = item.get('run', true);
      if (!isScalar(run) || typeof run.value !== 'string') return;
      const shell = (item.get('shell') as string | undefined) ?? defaultShell;
      // A block scalar (`run: |`) starts on the line after its indicator.
      const start = counter.linePos(run.range![0]).line + (run.type === 'BLOCK_LITERAL' || run.type === 'BLOCK_FOLDED' ? 1 : 0);
      out.push({ file, where: `${owner}, step ${i + 1}${item.get('name') ? ` (${String(item.get('name'))})` : ''}`, script: run.value, line: start, shell });
    });
  };
  const defaultShell = js.defaults?.run?.shell ?? 'bash';
  const jobs = doc.get('jobs', true);
  if (isMap(jobs)) {
    for (const pair of jobs.items) {
      const name = String((pair.key as { value: unknown }).value);
      const job = pair.value;
      if (!isMap(job)) continue;
      const jobShell = (js.jobs[name] as { defaults?: { run?: { shell?: string } } }).defaults?.run?.shell ?? defaultShell;
      visit(job.get('steps', true) as Node, `job ${name}`, jobShell);
    }
  }
  const runs = doc.get('runs', true);
  if (isMap(runs)) visit(runs.get('steps', true) as Node, 'composite action', 'bash');
  return out;
}

/**
 * GitHub substitutes `${{ ... }}` into a script's text before the shell sees
 * it. For shellcheck each one becomes a run of underscores of the same length:
 * a plain shell word, so it adds no quoting warning of its own and columns
 * stay put (actionlint's own shellcheck integration does the same).
 */
export const withoutExpressions = (script: string) => script.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => '_'.repeat(m.length));

/** `uses:` values of a file's steps, in order. */
export const usesOf = (text: string) => [...text.matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/gm)].map((m) => ({ ref: m[1]!, comment: m[2]!.trim() }));
