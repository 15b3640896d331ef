import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTemplateScaffold } from '../emit/scaffold.ts';
import { KilnError } from '../errors.ts';
import { NAME_PATTERN, nameClashes, reservedName } from '../graph/names.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';

const options = {
  gpu: { type: 'string', multiple: true, value: 'G', help: 'a GPU to build for (repeat for several; default: every GPU under base/)' },
} satisfies Options;

export const scaffold: Command = {
  name: 'new',
  summary: 'scaffold templates/<name>/ (template.ts + workflows/), valid as written',
  usage: 'kiln new <name> [--gpu G]...',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('new', options, argv, { positionals: true });
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new KilnError(`usage: ${this.usage}`);
    if (!NAME_PATTERN.test(name)) throw new KilnError(`"${name}" is not a lowercase, dash-separated name (e.g. sdxl-lightning)`);
    const reserved = reservedName(name);
    if (reserved) throw new KilnError(`"${name}" ${reserved}: every later command would refuse a template of that name. Choose another.`);
    const dir = join(io.root, 'templates', name);
    if (existsSync(dir)) throw new KilnError(`templates/${name} exists already`);
    const { project } = await synthesize(io.root, io);
    const known = project.gpus.map((g) => g.def.name).sort();
    if (known.includes(name)) throw new KilnError(`"${name}" is a GPU profile (${project.gpus.find((g) => g.def.name === name)!.file}); a template cannot share its name`);
    const taken = project.templates.find((t) => t.def.name === name);
    if (taken) throw new KilnError(`"${name}" is the name of the template in ${taken.file}`);
    const gpus = values.gpu?.length ? values.gpu : known;
    for (const g of gpus) if (!known.includes(g)) throw new KilnError(`unknown GPU "${g}" (known: ${known.join(', ')})`);
    // Any other name the new template's group or images would take (e.g. "sd15-basic-rtx4090" is an image of sd15-basic).
    const clash = nameClashes(
      project.gpus.map((g) => g.def),
      [...project.templates.map((t) => ({ name: t.def.name, gpus: t.def.gpus.map((g) => g.name), nodes: t.def.nodes ?? [] })), { name, gpus, nodes: [] }],
    ).find((c) => c.owner.chosenBy?.kind === 'template' && c.owner.chosenBy.name === name);
    if (clash) throw new KilnError(`"${name}" would make ${clash.owner.what}, but ${clash.name} is already ${clash.taken.what}. Choose another name.`);
    mkdirSync(join(dir, 'workflows'), { recursive: true });
    writeFileSync(join(dir, 'template.ts'), renderTemplateScaffold(name, gpus));
    writeFileSync(join(dir, 'workflows', '.gitkeep'), '');
    io.out(`created templates/${name}/template.ts (GPUs: ${gpus.join(', ')})`);
    io.out('next: edit it, then `npx kiln generate` and commit templates/ and bake/');
    return 0;
  },
};
