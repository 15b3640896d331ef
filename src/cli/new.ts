import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderTemplateScaffold } from '../emit/scaffold.ts';
import { KilnError } from '../errors.ts';
import type { Command } from './command.ts';
import { synthesize } from './project.ts';

export const scaffold: Command = {
  name: 'new',
  summary: 'scaffold templates/<name>/ (template.ts + workflows/), valid as written',
  usage: 'kiln new <name> [--gpu G]...',
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { gpu: { type: 'string', multiple: true } } });
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new KilnError('usage: kiln new <name> [--gpu G]...');
    if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) throw new KilnError(`"${name}" is not a lowercase, dash-separated name (e.g. sdxl-lightning)`);
    const dir = join(io.root, 'templates', name);
    if (existsSync(dir)) throw new KilnError(`templates/${name}/ exists already`);
    const { project } = await synthesize(io.root);
    const known = project.gpus.map((g) => g.def.name).sort();
    const gpus = values.gpu?.length ? values.gpu : known;
    for (const g of gpus) if (!known.includes(g)) throw new KilnError(`unknown GPU "${g}" (known: ${known.join(', ')})`);
    mkdirSync(join(dir, 'workflows'), { recursive: true });
    writeFileSync(join(dir, 'template.ts'), renderTemplateScaffold(name, gpus));
    writeFileSync(join(dir, 'workflows', '.gitkeep'), '');
    io.out(`created templates/${name}/template.ts (GPUs: ${gpus.join(', ')})`);
    io.out('next: edit it, then `npx kiln generate` and commit templates/ and bake/');
    return 0;
  },
};
