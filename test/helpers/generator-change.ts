/**
 * A change of Kiln's own generators for the identity tests: one partial
 * (cmake-build.hbs, rendered only by the llama.cpp builders) edited in a copy
 * that has its own src/, and the targets that change, worked out from the
 * generated files alone (not from the identity code under test).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import hcl2 from 'hcl2-json-parser';

type Blocks = Record<string, { contexts?: Record<string, string>; dockerfile: string }[]>;

export interface GeneratorChange {
  /** Call after `kiln generate` in the copy: the targets whose Dockerfile changed, and every target built on one. */
  readonly expected: () => string[];
  readonly dockerfileChanged: () => string[];
}

export async function editPartial(root: string): Promise<GeneratorChange> {
  const blocks = ((await hcl2.parseToObject(readFileSync(join(root, 'bake/docker-bake.hcl'), 'utf8'))) as { target: Blocks }).target;
  const dockerfile = (name: string) => readFileSync(join(root, 'bake', blocks[name]![0]!.dockerfile), 'utf8');
  const before = new Map(Object.keys(blocks).map((n) => [n, dockerfile(n)]));
  const partial = join(root, 'src/emit/partials/cmake-build.hbs');
  const text = readFileSync(partial, 'utf8');
  const edited = text.replace('--config Release', '--config Release --verbose');
  if (edited === text) throw new Error('fixture drift: src/emit/partials/cmake-build.hbs has no "--config Release"');
  writeFileSync(partial, edited);
  const dockerfileChanged = () => [...before].filter(([n, old]) => dockerfile(n) !== old).map(([n]) => n).sort();
  const expected = () => {
    const changed = dockerfileChanged();
    const reaches = (n: string): boolean =>
      changed.includes(n) || Object.values(blocks[n]![0]!.contexts ?? {}).some((c) => c.startsWith('target:') && reaches(c.slice('target:'.length)));
    return Object.keys(blocks).filter(reaches).sort();
  };
  return { expected, dockerfileChanged };
}
