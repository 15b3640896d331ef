/**
 * ComfyUI's model loaders: which input of which node names a file, in which
 * model folder. Read by the workflow check (src/graph/validate/workflow-models.ts)
 * to find the model files a template's workflows load.
 *
 * Sources, read for this table (ComfyUI's b133e48 pinned in base/common.ts is
 * not in the stored snapshots; these loaders' inputs have not moved since):
 * - comfyanonymous/ComfyUI nodes.py at e60e19b: the core loaders' INPUT_TYPES;
 * - ComfyUI folder_paths.py (folder_names_and_paths, map_legacy): the folders a key searches;
 * - comfy_extras: nodes_upscale_model.py, nodes_hypernetwork.py, nodes_photomaker.py,
 *   nodes_video_model.py, nodes_sd3.py (TripleCLIPLoader), nodes_hidream.py (QuadrupleCLIPLoader);
 * - city96/ComfyUI-GGUF nodes.py at 014560d (the GGUF loaders; flux1-dev pins 795e451).
 *
 * `widget` is the input's place in a UI-format node's widgets_values: the
 * widget inputs of INPUT_TYPES in order (required, then optional), links
 * (MODEL, CLIP, ...) not counted. API-format workflows name the input.
 */

/**
 * ComfyUI's folder keys and the folders under models/ each one searches
 * (folder_paths.py: "text_encoders" is text_encoders/ and the legacy clip/,
 * "diffusion_models" is unet/ and diffusion_models/, "controlnet" also t2i_adapter/).
 */
export const COMFY_FOLDERS = {
  checkpoints: ['checkpoints'],
  loras: ['loras'],
  vae: ['vae'],
  vae_approx: ['vae_approx'],
  text_encoders: ['text_encoders', 'clip'],
  diffusion_models: ['diffusion_models', 'unet'],
  clip_vision: ['clip_vision'],
  style_models: ['style_models'],
  controlnet: ['controlnet', 't2i_adapter'],
  gligen: ['gligen'],
  upscale_models: ['upscale_models'],
  hypernetworks: ['hypernetworks'],
  photomaker: ['photomaker'],
} as const satisfies Readonly<Record<string, readonly string[]>>;

export type ComfyFolder = keyof typeof COMFY_FOLDERS;

export interface LoaderInput {
  /** The input's name (API format; the widget's name in UI format). */
  readonly name: string;
  /** Its index in widgets_values (UI format). */
  readonly widget: number;
  /** The folder keys whose files the input lists. */
  readonly folders: readonly ComfyFolder[];
}

export interface Loader {
  readonly inputs: readonly LoaderInput[];
  /** Values that name no file (built by the node from others, or virtual). @default none */
  readonly notFiles?: readonly string[];
  /** Where the node and its inputs are defined. */
  readonly source: string;
}

const one = (name: string, folder: ComfyFolder, widget = 0): LoaderInput => ({ name, widget, folders: [folder] });
const clips = (n: number): LoaderInput[] => Array.from({ length: n }, (_, i) => one(`clip_name${i + 1}`, 'text_encoders', i));

const CORE = 'ComfyUI nodes.py';
const GGUF = 'city96/ComfyUI-GGUF nodes.py';

/** Node type -> its file inputs. A node type not listed here is not checked. */
export const LOADERS: Readonly<Record<string, Loader>> = {
  CheckpointLoaderSimple: { inputs: [one('ckpt_name', 'checkpoints')], source: CORE },
  // config_name (widget 0) is a models/configs YAML ComfyUI ships, not a model.
  CheckpointLoader: { inputs: [one('ckpt_name', 'checkpoints', 1)], source: CORE },
  unCLIPCheckpointLoader: { inputs: [one('ckpt_name', 'checkpoints')], source: CORE },
  ImageOnlyCheckpointLoader: { inputs: [one('ckpt_name', 'checkpoints')], source: 'ComfyUI comfy_extras/nodes_video_model.py' },
  LoraLoader: { inputs: [one('lora_name', 'loras')], source: CORE },
  LoraLoaderModelOnly: { inputs: [one('lora_name', 'loras')], source: CORE },
  VAELoader: {
    // VAELoader.vae_list: vae/ files, video TAEs from vae_approx/ by file name, and names it builds itself.
    inputs: [{ name: 'vae_name', widget: 0, folders: ['vae', 'vae_approx'] }],
    notFiles: ['taesd', 'taesdxl', 'taesd3', 'taef1', 'taef2', 'pixel_space'],
    source: `${CORE} (VAELoader.vae_list)`,
  },
  ControlNetLoader: { inputs: [one('control_net_name', 'controlnet')], source: CORE },
  DiffControlNetLoader: { inputs: [one('control_net_name', 'controlnet')], source: CORE },
  UNETLoader: { inputs: [one('unet_name', 'diffusion_models')], source: CORE },
  CLIPLoader: { inputs: [one('clip_name', 'text_encoders')], source: CORE },
  DualCLIPLoader: { inputs: clips(2), source: CORE },
  TripleCLIPLoader: { inputs: clips(3), source: 'ComfyUI comfy_extras/nodes_sd3.py' },
  QuadrupleCLIPLoader: { inputs: clips(4), source: 'ComfyUI comfy_extras/nodes_hidream.py' },
  CLIPVisionLoader: { inputs: [one('clip_name', 'clip_vision')], source: CORE },
  StyleModelLoader: { inputs: [one('style_model_name', 'style_models')], source: CORE },
  GLIGENLoader: { inputs: [one('gligen_name', 'gligen')], source: CORE },
  UpscaleModelLoader: { inputs: [one('model_name', 'upscale_models')], source: 'ComfyUI comfy_extras/nodes_upscale_model.py' },
  HypernetworkLoader: { inputs: [one('hypernetwork_name', 'hypernetworks')], source: 'ComfyUI comfy_extras/nodes_hypernetwork.py' },
  PhotoMakerLoader: { inputs: [one('photomaker_model_name', 'photomaker')], source: 'ComfyUI comfy_extras/nodes_photomaker.py' },
  // ComfyUI-GGUF lists .gguf files of the same folders ("unet_gguf", "clip_gguf" keys).
  UnetLoaderGGUF: { inputs: [one('unet_name', 'diffusion_models')], source: GGUF },
  UnetLoaderGGUFAdvanced: { inputs: [one('unet_name', 'diffusion_models')], source: GGUF },
  CLIPLoaderGGUF: { inputs: [one('clip_name', 'text_encoders')], source: GGUF },
  DualCLIPLoaderGGUF: { inputs: clips(2), source: GGUF },
  TripleCLIPLoaderGGUF: { inputs: clips(3), source: GGUF },
  QuadrupleCLIPLoaderGGUF: { inputs: clips(4), source: GGUF },
};
