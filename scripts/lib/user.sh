# shellcheck shell=bash
# KILN_USER: ComfyUI and the services (FileBrowser, Jupyter, llama-server, the
# status endpoint) run as this non-root user, created when missing; it owns
# what they write. sshd (it must switch users) and start.sh's own steps (git,
# pip into the image's venv, the model fetch, the connection log) stay root;
# their results are handed over before ComfyUI starts. Sourced by start.sh.

USER_UID="" USER_GID="" USER_HOME=""

user_setup() {
  [[ -n $KILN_USER ]] || return 0
  if ((EUID != 0)); then
    warn "KILN_USER=$KILN_USER: start.sh runs as $(id -un), not root; everything runs as $(id -un)"
    return 0
  fi
  if [[ ! $KILN_USER =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
    err "KILN_USER='$KILN_USER' is not a user name (lower-case letters, digits, _ and -, at most 32); ComfyUI runs as root"
    return 0
  fi
  have setpriv || { err "KILN_USER: setpriv (util-linux) is not installed; ComfyUI runs as root"; return 0; }
  local entry _
  if ! entry=$(getent passwd "$KILN_USER"); then
    if ! useradd --create-home --user-group --shell /bin/bash "$KILN_USER" >/dev/null 2>&1 ||
      ! entry=$(getent passwd "$KILN_USER"); then
      err "KILN_USER: cannot create the user $KILN_USER (useradd failed); ComfyUI runs as root"
      return 0
    fi
    log "KILN_USER: created user $KILN_USER"
  fi
  IFS=: read -r _ _ USER_UID USER_GID _ USER_HOME _ <<<"$entry"
  if ((USER_UID == 0)); then
    warn "KILN_USER=$KILN_USER has uid 0; nothing to change"
    USER_UID=""
    return 0
  fi
  if [[ ! -d $USER_HOME ]]; then
    mkdir -p "$USER_HOME" && chown "$USER_UID:$USER_GID" "$USER_HOME"
  fi
  log "KILN_USER: ComfyUI, FileBrowser, Jupyter, llama-server and the status endpoint run as $KILN_USER (uid $USER_UID); sshd and start.sh stay root"
}

user_own() { # path [maxdepth]: hand it (and what is below it) to KILN_USER
  [[ -n $USER_UID && -e $1 ]] || return 0
  local -a depth=()
  [[ -n ${2:-} ]] && depth=(-maxdepth "$2")
  # Links are handed over themselves (-h), never followed; no other file system is entered.
  find "$1" -xdev "${depth[@]}" \( ! -uid "$USER_UID" -o ! -gid "$USER_GID" \) \
    -exec chown -h "$USER_UID:$USER_GID" -- {} + 2>/dev/null ||
    warn "KILN_USER: could not hand all of $1 to $KILN_USER"
}

# Everything ComfyUI and the services write, before ComfyUI starts.
user_own_data() {
  [[ -n $USER_UID ]] || return 0
  mkdir -p "$COMFYUI_DIR/temp"
  user_own "$COMFYUI_DIR/temp"
  if ((PERSIST)); then
    user_own "$DATA_DIR"
    user_own "$WORKSPACE_DIR/.kiln"
  else
    local d
    for d in models output input user; do user_own "$DATA_DIR/$d"; done
    # The baked nodes stay root's (the image's); new nodes can be added.
    user_own "$DATA_DIR/custom_nodes" 0
  fi
}
