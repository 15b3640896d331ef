import { withOptions } from './schema.ts';
import type { CustomNode } from './types.ts';

export interface NodeOptions {
  /** Folder under custom_nodes. @default the repository name */
  readonly name?: string;
  /** Install the node's requirements.txt. @default true */
  readonly requirements?: boolean;
}

/** A ComfyUI custom node pinned to a full commit SHA: `node('https://github.com/o/r', '<40 hex>')`. */
export function node(repo: string, commit: string, options: NodeOptions = {}): CustomNode {
  const name = options.name ?? repo.replace(/\.git$/, '').split('/').filter(Boolean).at(-1) ?? repo;
  return withOptions({ repo, commit, name, requirements: options.requirements ?? true }, options);
}
