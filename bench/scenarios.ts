/**
 * Standard change scenarios: each a real edit to a copy of the repo. Shared by
 * `npm run bench` (predicted minutes) and the engine test that checks `kiln
 * plan` against what BuildKit really re-runs.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Scenario {
  readonly name: string;
  readonly description: string;
  apply(root: string): void;
}

function replaceIn(root: string, file: string, from: string, to: string): void {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) throw new Error(`scenario edit: "${from}" not found in ${file}`);
  writeFileSync(path, text.split(from).join(to));
}

const GPU_FILES = ['base/rtx4090.ts', 'base/rtx5090.ts'];

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'add-node',
    description: 'append a custom node to sd15-basic',
    apply: (root) =>
      replaceIn(
        root,
        'templates/sd15-basic/template.ts',
        "node('https://github.com/rgthree/rgthree-comfy', '32142fe476878a354dda6e2d4b5ea98960de3ced'),\n",
        "node('https://github.com/rgthree/rgthree-comfy', '32142fe476878a354dda6e2d4b5ea98960de3ced'),\n    node('https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite', '115de7a9d9e34410cffb9ecfd268e993b11a50fb'),\n",
      ),
  },
  {
    name: 'bump-comfyui',
    description: 'move ComfyUI to another commit',
    apply: (root) => replaceIn(root, 'base/common.ts', 'b133e48368d0f52bb014f0dd7ae1adb7403d515b', 'ee71d5c4993f29086b27fde1629a945ae48425bf'),
  },
  {
    name: 'edit-start-sh',
    description: 'edit scripts/start.sh',
    apply: (root) => writeFileSync(join(root, 'scripts/start.sh'), `${readFileSync(join(root, 'scripts/start.sh'), 'utf8')}# edited by the bench scenario\n`),
  },
  {
    name: 'apt-package',
    description: 'add an apt package to the common base',
    apply: (root) => replaceIn(root, 'base/common.ts', "apt: ['curl',", "apt: ['curl', 'htop',"),
  },
  {
    name: 'bump-torch',
    description: 'torch 2.8.0 -> 2.9.0 (with its torchvision, torchaudio, and xformers where a profile pins one) on both GPUs',
    apply: (root) => {
      for (const f of GPU_FILES) {
        replaceIn(root, f, "torch: '2.8.0'", "torch: '2.9.0'");
        replaceIn(root, f, "torchvision: '0.23.0'", "torchvision: '0.24.0'");
        replaceIn(root, f, "torchaudio: '2.8.0'", "torchaudio: '2.9.0'");
      }
      // xformers 0.0.33 pins torch 2.9.0 (GPU-FACTS); only the 4090 profile has xformers.
      replaceIn(root, 'base/rtx4090.ts', "xformers: '0.0.32.post2'", "xformers: '0.0.33'");
    },
  },
  {
    name: 'bump-llama',
    description: 'llama.cpp b8508 -> b8532 on both GPUs',
    apply: (root) => {
      for (const f of GPU_FILES) replaceIn(root, f, "tag: 'b8508'", "tag: 'b8532'");
    },
  },
  {
    name: 'new-template',
    description: 'add a template (a copy of sd15-basic with its own name)',
    apply: (root) => {
      cpSync(join(root, 'templates/sd15-basic'), join(root, 'templates/sd15-extra'), { recursive: true });
      replaceIn(root, 'templates/sd15-extra/template.ts', "name: 'sd15-basic'", "name: 'sd15-extra'");
    },
  },
];
