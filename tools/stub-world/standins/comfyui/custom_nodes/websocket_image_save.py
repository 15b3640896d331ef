"""Stand-in for ComfyUI's custom_nodes/websocket_image_save.py (kiln stub
world): a single-file custom node that ships with ComfyUI."""


class SaveImageWebsocket:
    CATEGORY = "api node/image"
    RETURN_TYPES = ()
    FUNCTION = "save_images"


NODE_CLASS_MAPPINGS = {"SaveImageWebsocket": SaveImageWebsocket}
