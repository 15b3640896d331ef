/** Paths inside the images. scripts/ and docs/runtime.md rely on these. */
export const IMAGE_PATHS = {
  venv: '/opt/venv',
  comfyui: '/opt/ComfyUI',
  constraints: '/opt/kiln/constraints.txt',
  manifest: '/opt/kiln/manifest',
  scripts: '/opt/kiln/scripts',
  workflows: '/opt/ComfyUI/user/default/workflows',
  /** Where kernel builders leave their wheels. */
  wheels: '/wheels',
  /** Where the llama builder leaves llama-server and its backend .so files. */
  llama: '/opt/llama',
  src: '/src',
  /** Where release binaries (FileBrowser) are installed; on PATH. */
  bin: '/usr/local/bin',
} as const;
