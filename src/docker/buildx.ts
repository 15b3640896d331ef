import { execa } from 'execa';
import semver from 'semver';

/** Oldest buildx whose bake accepts Kiln's file (CSV cache entries, named target contexts). */
export const MIN_BUILDX = '0.13.0';

export type EngineStatus =
  | { readonly ok: true; readonly buildx: string }
  | { readonly ok: false; readonly missing: string; readonly hint: string };

/** What the local docker setup can do: CLI, buildx plugin (>= 0.13), and optionally a reachable engine. */
export async function checkDocker(options: { readonly needEngine: boolean }): Promise<EngineStatus> {
  const version = await execa('docker', ['buildx', 'version'], { reject: false, timeout: 20_000 });
  // No exit code at all means docker could not be spawned.
  if (version.exitCode === undefined) {
    return { ok: false, missing: 'the docker CLI (not found on PATH)', hint: 'install Docker (CLI + engine), or use --dry-run to see the plan' };
  }
  if (version.exitCode !== 0) {
    return {
      ok: false,
      missing: 'the docker buildx plugin (`docker buildx version` failed)',
      hint: 'install docker-buildx (>= 0.13) into ~/.docker/cli-plugins or $DOCKER_CONFIG/cli-plugins',
    };
  }
  const found = /\bv?(\d+\.\d+\.\d+)/.exec(version.stdout);
  const v = found ? semver.coerce(found[1]) : null;
  if (!v) return { ok: false, missing: `a buildx version Kiln can read (got "${version.stdout.trim()}")`, hint: `install buildx >= ${MIN_BUILDX}` };
  if (semver.lt(v, MIN_BUILDX)) {
    return { ok: false, missing: `buildx >= ${MIN_BUILDX} (found ${v.version})`, hint: `upgrade docker-buildx to ${MIN_BUILDX} or newer` };
  }
  if (options.needEngine) {
    const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
    if (info.exitCode !== 0) {
      return {
        ok: false,
        missing: `a Docker engine (${process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : 'the default socket'} does not answer)`,
        hint: 'start dockerd (or `tools/engine.sh up` and eval "$(tools/engine.sh env)"), or pick a remote builder with --builder',
      };
    }
  }
  return { ok: true, buildx: v.version };
}

export interface BakeInvocation {
  readonly file: string;
  readonly targets: readonly string[];
  /** @default false */
  readonly push?: boolean;
  /** @default false */
  readonly load?: boolean;
  /** @default false */
  readonly print?: boolean;
  readonly builder?: string;
  /** `--set` overrides, `target.key=value`. */
  readonly set?: readonly string[];
  /** Passed as --progress. @default buildx's own choice */
  readonly progress?: string;
}

/** argv after `docker`: the exact command Kiln runs (and prints on --dry-run). */
export function bakeArgs(b: BakeInvocation): string[] {
  const args = ['buildx', 'bake', '-f', b.file];
  if (b.builder) args.push('--builder', b.builder);
  if (b.progress) args.push('--progress', b.progress);
  if (b.print) args.push('--print');
  if (b.push) args.push('--push');
  if (b.load) args.push('--load');
  for (const s of b.set ?? []) args.push('--set', s);
  args.push(...b.targets);
  return args;
}

/** Run buildx with its own progress on the terminal; resolves to its exit code. */
export async function runBake(cwd: string, b: BakeInvocation): Promise<number> {
  const result = await execa('docker', bakeArgs(b), { cwd, stdio: 'inherit', reject: false });
  return result.exitCode ?? 1;
}
