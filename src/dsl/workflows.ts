/**
 * ComfyUI workflow files: read either format into one shape.
 *
 * - UI format ("workflow", what ComfyUI's Save writes and its workflow browser
 *   opens): `{ nodes: [...], links: [...], version, ... }`. Fields as in the
 *   frontend's zod schema `zComfyWorkflow` (version 0.4: links as 6-tuples,
 *   last_node_id, last_link_id) and `zComfyWorkflow1` (version 1: `state`,
 *   links as objects): Comfy-Org/ComfyUI_frontend
 *   src/platform/workflow/validation/schemas/workflowSchema.ts.
 * - API format (what "Export (API)" writes and POST /prompt takes): an object
 *   of node ids -> `{ class_type, inputs }` (the frontend's `isApiJson`). The
 *   workflow browser does not open it; Kiln's validation refuses it in a
 *   template's workflows/ (src/graph/validate/workflows.ts).
 *
 * Both yield the nodes with their literal values (widget values, or the
 * non-link inputs), which is what a check of model names needs. UI-format
 * nodes inside subgraphs (`definitions.subgraphs[].nodes`, the frontend's
 * zGraphDefinitions) are read too, with the subgraph they are in.
 */

export interface WorkflowNode {
  readonly id: string;
  /** Node class, e.g. "CheckpointLoaderSimple". */
  readonly type: string;
  /** UI: widgets_values (in widget order); API: inputs that are not links. */
  readonly values: readonly unknown[];
  /** API: the inputs that are not links, by name. UI: widgets_values when the node saved them as an object. */
  readonly named: Readonly<Record<string, unknown>>;
  /** Inputs whose value comes from a link (UI: widgets converted to inputs and connected), so no literal value counts. */
  readonly linked: readonly string[];
  /** The subgraph the node is in (its name), when it is not at the top of the workflow. */
  readonly subgraph?: string;
}

export interface WorkflowIssue {
  /** Where in the file: "(JSON)", "(top level)", "nodes[2].type", "links[0]". */
  readonly where: string;
  readonly problem: string;
}

export interface Workflow {
  /** "invalid" when the text is not JSON or not a workflow of either format. */
  readonly format: 'ui' | 'api' | 'invalid';
  readonly nodes: readonly WorkflowNode[];
  /** Empty when the file is a sound workflow of its format. At most MAX_ISSUES. */
  readonly issues: readonly WorkflowIssue[];
}

const MAX_ISSUES = 5;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNodeId = (v: unknown): v is number | string => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'string';
const isSlot = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d+$/.test(v));
const isDataType = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
const isVector2 = (v: unknown): boolean =>
  (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) || (isObject(v) && typeof v[0] === 'number' && typeof v[1] === 'number');

/** The frontend's isApiJson: a non-empty object whose every value has a string class_type and object inputs. */
export function isApiWorkflow(doc: unknown): boolean {
  return isObject(doc) && Object.keys(doc).length > 0 && Object.values(doc).every((n) => isObject(n) && typeof n.class_type === 'string' && isObject(n.inputs));
}

export function readWorkflow(text: string): Workflow {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { format: 'invalid', nodes: [], issues: [{ where: '(JSON)', problem: `is not valid JSON: ${jsonError(text, err as Error)}` }] };
  }
  if (isApiWorkflow(doc)) {
    // A link is [source node id, output slot]; everything else is a value.
    const isLink = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && isNodeId(v[0]) && typeof v[1] === 'number';
    const nodes = Object.entries(doc as Record<string, { class_type: string; inputs: Json }>).map(([id, n]): WorkflowNode => {
      const inputs = Object.entries(n.inputs);
      const named = Object.fromEntries(inputs.filter(([, v]) => !isLink(v)));
      return { id, type: n.class_type, values: Object.values(named), named, linked: inputs.filter(([, v]) => isLink(v)).map(([k]) => k) };
    });
    return { format: 'api', nodes, issues: [] };
  }
  if (!isObject(doc) || !Array.isArray(doc.nodes)) {
    const what = Array.isArray(doc) ? 'a list' : isObject(doc) ? `an object without a "nodes" list (keys: ${Object.keys(doc).slice(0, 6).join(', ') || 'none'})` : `a ${typeof doc}`;
    return { format: 'invalid', nodes: [], issues: [{ where: '(top level)', problem: `is ${what}, not a ComfyUI workflow` }] };
  }
  return readUi(doc);
}

function readUi(doc: Json): Workflow {
  const issues: WorkflowIssue[] = [];
  const issue = (where: string, problem: string): void => {
    if (issues.length < MAX_ISSUES) issues.push({ where, problem });
  };
  const nodes: WorkflowNode[] = [];
  const ids = new Set<string>();
  for (const [i, n] of (doc.nodes as unknown[]).entries()) {
    const at = `nodes[${i}]`;
    if (!isObject(n)) {
      issue(at, 'is not an object');
      continue;
    }
    if (!isNodeId(n.id)) issue(`${at}.id`, 'must be an integer (or a string id)');
    else if (ids.has(String(n.id))) issue(`${at}.id`, `${JSON.stringify(n.id)} is also the id of an earlier node`);
    else ids.add(String(n.id));
    if (typeof n.type !== 'string' || n.type === '') issue(`${at}.type`, 'must name the node class, e.g. "KSampler"');
    for (const k of ['pos', 'size'] as const) if (!isVector2(n[k])) issue(`${at}.${k}`, 'must be [x, y] numbers');
    for (const k of ['flags', 'properties'] as const) if (!isObject(n[k])) issue(`${at}.${k}`, 'must be an object');
    for (const k of ['order', 'mode'] as const) if (typeof n[k] !== 'number') issue(`${at}.${k}`, 'must be a number');
    for (const k of ['inputs', 'outputs'] as const) {
      if (n[k] !== undefined && !(Array.isArray(n[k]) && (n[k] as unknown[]).every((s) => isObject(s) && typeof s.name === 'string' && isDataType(s.type)))) {
        issue(`${at}.${k}`, 'must be a list of { name, type } slots');
      }
    }
    const w = n.widgets_values;
    if (w !== undefined && !Array.isArray(w) && !isObject(w)) issue(`${at}.widgets_values`, 'must be a list (or an object)');
    const node = uiNode(n);
    if (node) nodes.push(node);
  }
  // Nodes inside subgraph definitions: read for their values only (the frontend validates these itself).
  const defs = isObject(doc.definitions) && Array.isArray(doc.definitions.subgraphs) ? doc.definitions.subgraphs : [];
  for (const sg of defs) {
    if (!isObject(sg) || !Array.isArray(sg.nodes)) continue;
    const name = typeof sg.name === 'string' && sg.name ? sg.name : typeof sg.id === 'string' ? sg.id : '(unnamed)';
    for (const n of sg.nodes) {
      const node = isObject(n) ? uiNode(n) : null;
      if (node) nodes.push({ ...node, subgraph: name });
    }
  }

  if (typeof doc.version !== 'number') issue('version', 'must be a number (0.4, or 1)');
  const ends: [string, unknown, unknown][] = []; // where, origin, target
  if (doc.version === 1) {
    if (!isObject(doc.state)) issue('state', 'must be an object (version 1 workflows keep lastNodeId, lastLinkId, ... there)');
    if (doc.links !== undefined && !Array.isArray(doc.links)) issue('links', 'must be a list');
    for (const [i, l] of (Array.isArray(doc.links) ? doc.links : []).entries()) {
      const ok = isObject(l) && typeof l.id === 'number' && isNodeId(l.origin_id) && isSlot(l.origin_slot) && isNodeId(l.target_id) && isSlot(l.target_slot) && isDataType(l.type);
      if (!ok) issue(`links[${i}]`, 'must be { id, origin_id, origin_slot, target_id, target_slot, type }');
      else ends.push([`links[${i}]`, l.origin_id, l.target_id]);
    }
  } else {
    if (!isNodeId(doc.last_node_id)) issue('last_node_id', 'must be the highest node id');
    if (typeof doc.last_link_id !== 'number') issue('last_link_id', 'must be the highest link id');
    if (!Array.isArray(doc.links)) issue('links', 'must be a list of links [id, from node, from slot, to node, to slot, type]');
    for (const [i, l] of (Array.isArray(doc.links) ? doc.links : []).entries()) {
      const ok = Array.isArray(l) && l.length === 6 && typeof l[0] === 'number' && isNodeId(l[1]) && isSlot(l[2]) && isNodeId(l[3]) && isSlot(l[4]) && isDataType(l[5]);
      if (!ok) issue(`links[${i}]`, 'must be [id, from node, from slot, to node, to slot, type]');
      else ends.push([`links[${i}]`, l[1], l[3]]);
    }
  }
  for (const [where, origin, target] of ends) {
    for (const end of [origin, target]) if (!ids.has(String(end))) issue(where, `connects node ${JSON.stringify(end)}, which is not in nodes`);
  }
  return { format: 'ui', nodes, issues };
}

/** A UI-format node's id, type and literal widget values; null without an id and a type. */
function uiNode(n: Json): WorkflowNode | null {
  if (!isNodeId(n.id) || typeof n.type !== 'string') return null;
  const w = n.widgets_values;
  // A widget converted to an input carries `widget: { name }`; with a link, the link gives its value.
  const linked = (Array.isArray(n.inputs) ? n.inputs : [])
    .filter((s): s is Json => isObject(s) && isObject(s.widget) && typeof s.widget.name === 'string' && s.link !== null && s.link !== undefined)
    .map((s) => (s.widget as Json).name as string);
  return { id: String(n.id), type: n.type, values: Array.isArray(w) ? w : isObject(w) ? Object.values(w) : [], named: isObject(w) ? w : {}, linked };
}

/** JSON.parse's message, with a line and column where it gives a position (V8 does for some errors). */
function jsonError(text: string, err: Error): string {
  const pos = /at position (\d+)/.exec(err.message);
  if (!pos) return err.message;
  const before = text.slice(0, Number(pos[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${err.message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${column}`;
}
