import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as core from '@actions/core';
import { execa } from 'execa';
import { pushedImages } from '../ci/pushed.ts';
import { KilnError } from '../errors.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { inActions } from './matrix.ts';

const options = {
  'dry-run': { type: 'boolean', default: false, help: 'print the cosign commands instead of running them' },
} satisfies Options;

/**
 * `kiln sign FILE`: keyless cosign signatures (in Actions: the workflow's
 * OIDC identity, which needs `id-token: write`) on every image a push wrote
 * into buildx's metadata file, by digest. No key or token is passed on the
 * command line: cosign takes the OIDC token from the runner's environment.
 */
export const sign: Command = {
  name: 'sign',
  summary: 'cosign-sign (keyless) by digest every image `kiln bake --push --metadata-file FILE` pushed',
  usage: 'kiln sign <metadata-file> [--dry-run]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('sign', options, argv, { positionals: true });
    if (positionals.length !== 1) {
      io.err(`usage: ${this.usage} (see \`kiln sign --help\`)`);
      return 2;
    }
    const file = positionals[0]!;
    let text: string;
    try {
      text = readFileSync(resolve(io.root, file), 'utf8');
    } catch (err) {
      throw new KilnError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run \`kiln bake ... --push --metadata-file ${file}\` first`);
    }
    const refs = pushedImages(text, file);
    for (const ref of refs) {
      const args = ['sign', '--yes', ref];
      if (values['dry-run']) {
        io.out(`cosign ${args.join(' ')}`);
        continue;
      }
      io.err(`kiln sign: cosign sign ${ref}`);
      const r = await execa('cosign', args, { cwd: io.root, env: io.env, extendEnv: false, stdout: 'inherit', stderr: 'inherit', reject: false });
      if (r.failed) {
        const missing = (r as { code?: string }).code === 'ENOENT';
        io.err(missing ? 'kiln sign: cosign is not installed (CI: sigstore/cosign-installer; locally: https://docs.sigstore.dev)' : `kiln sign: cosign failed on ${ref} (exit ${r.exitCode ?? '?'})`);
        return 1;
      }
    }
    if (!values['dry-run'] && inActions(io.env)) {
      await core.summary.addHeading('Signed images (cosign, keyless)', 3).addList(refs.map((r) => `<code>${r}</code>`)).write();
    }
    return 0;
  },
};
