import { shellWord } from './quote.ts';

/** templates/<name>/template.ts for `kiln new`: a valid, minimal template to edit. */
export function renderTemplateScaffold(name: string, gpus: readonly string[]): string {
  const imports = gpus.map((g) => `import ${g} from '../../base/${g}.ts';`).join('\n');
  return `${imports}
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';

// Created by \`kiln new ${shellWord(name)}\`. Edit, then run \`npx kiln generate\` and commit bake/.
export default defineTemplate({
  name: '${name}',
  description: 'TODO: one line on what this image is for.',
  gpus: [${gpus.join(', ')}],
  // features: { sage: true }, // sage | flash | llama
  models: [
    hf('Comfy-Org/stable-diffusion-v1-5-archive', 'v1-5-pruned-emaonly-fp16.safetensors', {
      into: 'checkpoints',
      sha256: 'e9476a13728cd75d8279f6ec8bad753a66a1957ca375a1464dc63b37db6e3916',
      bytes: 2132696762,
    }),
  ],
  nodes: [node('https://github.com/rgthree/rgthree-comfy', '32142fe476878a354dda6e2d4b5ea98960de3ced')],
});
`;
}
