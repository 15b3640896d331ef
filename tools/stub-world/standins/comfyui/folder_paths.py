"""Stand-in for ComfyUI's folder_paths.py (kiln stub world): the custom_nodes
folder next to main.py (and the models folders, for nodes that ask)."""
import os

base_path = os.path.dirname(os.path.realpath(__file__))
models_dir = os.path.join(base_path, "models")
folder_names_and_paths = {"custom_nodes": ([os.path.join(base_path, "custom_nodes")], set())}
for _name in ("checkpoints", "clip", "clip_vision", "controlnet", "diffusion_models", "embeddings", "loras",
              "text_encoders", "unet", "upscale_models", "vae", "llm"):
    folder_names_and_paths[_name] = ([os.path.join(models_dir, _name)], {".safetensors", ".ckpt", ".pt", ".gguf"})


def get_folder_paths(folder_name):
    return folder_names_and_paths[folder_name][0][:]


def get_output_directory():
    return os.path.join(base_path, "output")
