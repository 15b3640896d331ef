import type { CheckSpec } from '../graph/checks.ts';
import type { TemplateFiles } from '../graph/types.ts';
import { JSON_BANNER, JSON_BANNER_KEY } from './banner.ts';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** /opt/kiln/manifest/models.json: read by scripts/fetch_models.py at container start. */
export function renderModelsManifest(f: TemplateFiles): string {
  return json({ [JSON_BANNER_KEY]: JSON_BANNER, schema: 1, template: f.template, models: f.models });
}

/** /opt/kiln/manifest/nodes.lock.json: the custom nodes baked into the image, by commit. */
export function renderNodesLock(f: TemplateFiles): string {
  return json({ [JSON_BANNER_KEY]: JSON_BANNER, schema: 1, template: f.template, nodes: f.nodes });
}

/** /opt/kiln/checks/spec.json: what scripts/kiln_check runs in the image's checks stage. */
export function renderCheckSpec(spec: CheckSpec): string {
  return json({ [JSON_BANNER_KEY]: JSON_BANNER, ...spec });
}
