# shellcheck shell=bash
# ENABLE_MANAGER_UI. Kiln installs ComfyUI-Manager as a legacy clone in
# custom_nodes/ (base/common.ts). At the pinned commit (Comfy-Org/ComfyUI-Manager
# f39cbd5, __init__.py) the clone registers its web API and menu button only
# when its directory holds no `.enable-cli-only-mode` file - the file that
# `cm-cli.py cli-only-mode enable` writes. ComfyUI's own --enable-manager /
# --disable-manager-ui drive the pip package comfyui_manager, which Kiln does
# not install (details: docs/runtime.md "ComfyUI-Manager UI").
# Applied before every ComfyUI launch, so `comfyctl restart` picks up a change
# (`comfyctl manager-ui on|off` writes $KILN_RUN_DIR/manager-ui and restarts).
# Sourced by start.sh.

MANAGER_FLAG=.enable-cli-only-mode

manager_ui_wanted() {
  local v=$ENABLE_MANAGER_UI f="$KILN_RUN_DIR/manager-ui"
  if [[ -f $f ]]; then v=$(<"$f"); fi
  is_true "$v"
}

manager_ui_apply() {
  local d name want=off state=absent
  manager_ui_wanted && want=on
  for d in "$COMFYUI_DIR"/custom_nodes/*/; do
    d=${d%/}
    name=${d##*/}
    [[ ${name,,} == comfyui-manager && -f $d/__init__.py ]] || continue
    if [[ $want == on ]]; then
      rm -f "$d/$MANAGER_FLAG" 2>/dev/null
    else
      : >"$d/$MANAGER_FLAG" 2>/dev/null
    fi
    if [[ -e $d/$MANAGER_FLAG ]]; then state=off; else state=on; fi
    [[ $state == "$want" ]] || warn "ComfyUI-Manager UI: cannot switch it $want in $d (read-only?); it stays $state"
  done
  put "$KILN_RUN_DIR/manager-ui.applied" "$state"
  case $state in
  absent) debug "ComfyUI-Manager UI: no ComfyUI-Manager in custom_nodes" ;;
  on) log "ComfyUI-Manager UI: on (menu button and web API)" ;;
  off) log "ComfyUI-Manager UI: off (cli-only mode; set ENABLE_MANAGER_UI=true or run \`comfyctl manager-ui on\`)" ;;
  esac
  if [[ " $COMFY_ARGS " == *" --enable-manager"* || " $COMFY_ARGS " == *" --disable-manager-ui"* ]]; then
    warn "COMFY_ARGS: --enable-manager* / --disable-manager-ui drive ComfyUI's pip package comfyui_manager, which this image does not install; with --enable-manager ComfyUI blocks the Manager clone. Use ENABLE_MANAGER_UI instead"
  fi
}
