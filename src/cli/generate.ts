import { diffGenerated, writeGenerated } from '../io/output.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';

const options = {
  check: { type: 'boolean', default: false, help: 'write nothing; exit 1 naming stale, missing and extra files under bake/' },
} satisfies Options;

export const generate: Command = {
  name: 'generate',
  summary: 'write bake/ from base/ and templates/ (--check: fail if bake/ is stale)',
  usage: 'kiln generate [--check]',
  options,
  async run(argv, io) {
    const { values } = parseCommandArgs('generate', options, argv);
    const { files } = await synthesize(io.root, io);
    const drift = diffGenerated(io.root, files);
    const stale = [...drift.changed, ...drift.missing, ...drift.extra];
    if (values.check) {
      if (stale.length === 0) {
        io.out(`bake/ is up to date (${files.size} files)`);
        return 0;
      }
      io.err(`bake/ is stale: ${stale.length} file(s) differ from the definitions:`);
      for (const f of drift.changed) io.err(`  changed  ${f}`);
      for (const f of drift.missing) io.err(`  missing  ${f}`);
      for (const f of drift.extra) io.err(`  extra    ${f}`);
      io.err('Run `npx kiln generate` and commit bake/.');
      return 1;
    }
    writeGenerated(io.root, files);
    io.out(stale.length === 0 ? `bake/ unchanged (${files.size} files)` : `wrote bake/: ${stale.length} of ${files.size} files changed`);
    for (const f of stale) io.out(`  ${f}`);
    return 0;
  },
};
