/** Authoring API: import from 'kiln' (or src/dsl/index.ts inside this repo). */
export { defineBase, defineGpu, defineTemplate } from './define.ts';
export { civitai, hf, hfRepo, url } from './models.ts';
export type { CivitaiOptions, HfOptions, HfRepoOptions, UrlOptions } from './models.ts';
export { node } from './nodes.ts';
export type { NodeOptions } from './nodes.ts';
export * from './types.ts';
