import { execa } from 'execa';
import semver from 'semver';

/** Oldest buildx whose bake accepts Kiln's file (CSV cache entries, named target contexts). */
export const MIN_BUILDX = '0.13.0';

/** One thing a build needs that is not there, and how to get it. */
export interface Missing {
  readonly what: string;
  readonly fix: string;
}

export type EngineStatus =
  | { readonly ok: true; readonly buildx: string }
  | { readonly ok: false; readonly missing: readonly Missing[] };

/**
 * What the local docker setup lacks for a build: the CLI, the buildx plugin
 * (>= 0.13), and (when `needEngine`) a reachable engine. Everything missing
 * is reported, not only the first thing.
 */
export async function checkDocker(options: { readonly needEngine: boolean; readonly builder?: string }): Promise<EngineStatus> {
  const version = await execa('docker', ['buildx', 'version'], { reject: false, timeout: 20_000 });
  // No exit code at all means docker could not be spawned: nothing else can be asked.
  if (version.exitCode === undefined) {
    return {
      ok: false,
      missing: [
        {
          what: 'the docker CLI (not found on PATH), so also the buildx plugin and an engine',
          fix: 'install Docker Engine or Docker Desktop (CLI, buildx plugin and engine): https://docs.docker.com/engine/install/',
        },
      ],
    };
  }
  const missing: Missing[] = [];
  let buildx = '';
  if (version.exitCode !== 0) {
    missing.push({
      what: 'the docker buildx plugin (`docker buildx version` failed)',
      fix: `install docker-buildx (>= ${MIN_BUILDX.replace(/\.0$/, '')}) into ~/.docker/cli-plugins or $DOCKER_CONFIG/cli-plugins (Debian/Ubuntu: apt-get install docker-buildx)`,
    });
  } else {
    const found = /\bv?(\d+\.\d+\.\d+)/.exec(version.stdout);
    const v = found ? semver.coerce(found[1]) : null;
    if (!v) missing.push({ what: `a buildx version Kiln can read (got "${version.stdout.trim()}")`, fix: `install buildx >= ${MIN_BUILDX}` });
    else if (semver.lt(v, MIN_BUILDX)) missing.push({ what: `buildx >= ${MIN_BUILDX} (found ${v.version})`, fix: `upgrade docker-buildx to ${MIN_BUILDX} or newer` });
    else buildx = v.version;
  }
  if (options.builder && buildx) {
    // The builder the build will use, not the default engine: a remote BuildKit, kubernetes, cloud.
    const inspect = await execa('docker', ['buildx', 'inspect', options.builder, '--bootstrap'], { reject: false, timeout: 120_000 });
    if (inspect.exitCode !== 0) {
      const why = String(inspect.stderr || inspect.stdout).trim().split('\n').at(-1) ?? '';
      missing.push({
        what: `a usable buildx builder "${options.builder}" (\`docker buildx inspect ${options.builder} --bootstrap\` failed: ${why})`,
        fix: `create it (docker buildx create --name ${options.builder} ...), start it, or pick one from \`docker buildx ls\``,
      });
    }
  }
  if (options.needEngine) {
    const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
    if (info.exitCode !== 0) {
      missing.push({
        what: `a Docker engine (${process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : 'the default socket'} does not answer)`,
        fix: 'start dockerd (or set DOCKER_HOST to one that runs), or build on a remote builder with --builder NAME',
      });
    }
  }
  return missing.length > 0 ? { ok: false, missing } : { ok: true, buildx };
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
  /** SBOM and provenance (mode=max) attestations on the pushed images. @default false */
  readonly attest?: boolean;
  /** buildx's --metadata-file: per target the pushed digest and names (for signing). */
  readonly metadataFile?: string;
}

/** argv after `docker`: the exact command Kiln runs (and prints on --dry-run). */
export function bakeArgs(b: BakeInvocation): string[] {
  const args = ['buildx', 'bake', '-f', b.file];
  if (b.builder) args.push('--builder', b.builder);
  if (b.progress) args.push('--progress', b.progress);
  if (b.print) args.push('--print');
  if (b.push) args.push('--push');
  if (b.load) args.push('--load');
  if (b.attest) args.push('--sbom=true', '--provenance=mode=max');
  if (b.metadataFile) args.push('--metadata-file', b.metadataFile);
  for (const s of b.set ?? []) args.push('--set', s);
  args.push(...b.targets);
  return args;
}

/** Run buildx with its own progress on the terminal; resolves to its exit code. */
export async function runBake(cwd: string, b: BakeInvocation): Promise<number> {
  const result = await execa('docker', bakeArgs(b), { cwd, stdio: 'inherit', reject: false });
  return result.exitCode ?? 1;
}
