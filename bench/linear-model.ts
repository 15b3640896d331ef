/**
 * (b) The seed-style baseline: one linear Dockerfile per image, in the order
 * CUDA, apt, FileBrowser, llama-server, venv, torch, xformers, Sage, Flash,
 * JupyterLab, backend deps, ComfyUI, 4 node groups, cleanup, bootstrap,
 * start.sh, checks (JupyterLab in its own step, so a ComfyUI bump does not re-run
 * it: generous to the baseline). Steps appear only when the image needs
 * them, costs are Kiln's defaults for the same work, and identical prefixes
 * across images are shared (one builder cache): the baseline gets every
 * benefit BuildKit would give it. `everyStep` models the
 * seed literally: every image carries llama-server, Sage and Flash.
 */
import type { Project } from '../src/dsl/load.ts';
import { contentKey } from '../src/graph/keys.ts';
import type { LayerKindName } from '../src/dsl/types.ts';
import { LAYER_DEFAULTS, UV_KINDS, UV_SPEEDUP } from '../src/graph/layer-kinds.ts';
import { templateFiles } from '../src/graph/manifests.ts';
import { BUILD_APT, compileBudget, develImage } from '../src/graph/stages.ts';
import { enabledFeatures } from '../src/graph/template-target.ts';
import type { Step } from './work.ts';

export function linearSteps(project: Project, everyStep = false): Step[] {
  const base = project.bases[0]!.def;
  // The same installer as Kiln's images: uv's install minutes where the base uses uv.
  const C = Object.fromEntries(
    Object.entries(LAYER_DEFAULTS).map(([k, v]) => [k, { cost: v.cost * (base.uv && UV_KINDS.has(k as LayerKindName) ? UV_SPEEDUP : 1) }]),
  ) as Record<LayerKindName, { cost: number }>;
  const steps: Step[] = [];
  for (const t of project.templates) {
    const f = everyStep ? ['sage', 'flash', 'llama'] : enabledFeatures(t);
    const files = templateFiles(t.def);
    for (const gpu of t.def.gpus) {
      // The seed: one image on the devel flavour, compiling in place.
      let key = contentKey('image', develImage(base, gpu));
      const add = (label: string, own: unknown, cost: number, heavy = false) => {
        key = contentKey(key, label, own);
        steps.push({ key, cost, heavy, label: `${t.def.name}-${gpu.name}/${label}` });
      };
      const apt = [...base.toolchainApt, ...base.apt, ...(f.includes('llama') ? BUILD_APT : [])];
      add('apt', [...new Set(apt)].sort(), C.apt.cost);
      add('filebrowser', base.filebrowser, C.filebrowser.cost);
      if (f.includes('llama')) add('llama-server', [gpu.llama, compileBudget(gpu)], C['llama-clone'].cost + C['llama-build'].cost, true);
      add('venv', [base.python, base.pipTools], C.venv.cost + C['pip-tools'].cost);
      add('torch', [gpu.torch.index, gpu.torch.torch, gpu.torch.torchvision, gpu.torch.torchaudio], C.torch.cost);
      add('xformers', gpu.torch.xformers, C.xformers.cost + C.constraints.cost);
      if (f.includes('sage')) add('sage', [gpu.sage, compileBudget(gpu)], C['sage-clone'].cost + C['sage-build'].cost, true);
      if (f.includes('flash')) add('flash', [gpu.flash, compileBudget(gpu)], C['flash-clone'].cost + C['flash-build'].cost, true);
      add('jupyterlab', base.jupyterlab, C.jupyterlab.cost);
      add('backend-deps', [base.comfyui, base.manager], C['comfyui-reqs'].cost + C['manager-reqs'].cost);
      add('comfyui', [base.comfyui, base.manager], C.comfyui.cost + C.manager.cost);
      const nodes = t.def.nodes ?? [];
      const size = Math.ceil(nodes.length / 4);
      for (let g = 0; g < 4 && size > 0; g++) {
        const group = nodes.slice(g * size, (g + 1) * size);
        if (group.length === 0) continue;
        add(`nodes-${g + 1}`, group, group.reduce((s, n) => s + C['node-clone'].cost + (n.requirements ? C['node-reqs'].cost : 0), 0));
      }
      add('cleanup', 'apt-get clean && pip cache purge', 0.1);
      add('bootstrap', [files, t.workflows], C.manifests.cost + C.workflows.cost);
      add('start.sh', project.runtime, C.runtime.cost);
      // The same proof Kiln's images carry: the baseline runs the checks last, so they follow every edit.
      add('checks', 'kiln_check', C['check-spec'].cost + C.checks.cost + C['check-report'].cost);
    }
  }
  return steps;
}
