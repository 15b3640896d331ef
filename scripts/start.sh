#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Kiln container entrypoint (ENTRYPOINT ["/opt/kiln/scripts/start.sh"]).
#
# Order: (PARANOID_MODE: secrets out of the environment) -> layout
# (/workspace or ephemeral) -> PRIVACY_MODE hosts block -> GPU check ->
# KILN_USER -> status endpoint, connection log, SSH, FileBrowser, Jupyter ->
# extra custom nodes -> models -> llama-server -> ComfyUI under a supervisor
# loop (restart on crash with backoff; `comfyctl restart|stop|start|status|
# stop-pod|manager-ui` talks to it through signals and files in $KILN_RUN_DIR).
# On SIGTERM / `comfyctl stop-pod`: everything stops, then the PARANOID_MODE
# and NUKE_ON_STOP cleanups run.
#
# Every variable is documented, with its default, in docs/runtime.md.
# Bash + coreutils + Python 3 standard library only. One concern per file
# in lib/: paranoid.sh, cleanup.sh (+ cleanup.list), manager.sh, privacy.sh
# (+ telemetry-hosts.txt, netlog.py), gpu.sh, user.sh, status_server.py.
#
# No `set -e`: an entrypoint must keep going when an optional step fails,
# so every step checks and logs its own errors.
set -uo pipefail
shopt -s nullglob

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/paranoid.sh
source "$SCRIPT_DIR/lib/paranoid.sh"
# shellcheck source=lib/cleanup.sh
source "$SCRIPT_DIR/lib/cleanup.sh"
# shellcheck source=lib/manager.sh
source "$SCRIPT_DIR/lib/manager.sh"
# shellcheck source=lib/privacy.sh
source "$SCRIPT_DIR/lib/privacy.sh"
# shellcheck source=lib/gpu.sh
source "$SCRIPT_DIR/lib/gpu.sh"
# shellcheck source=lib/user.sh
source "$SCRIPT_DIR/lib/user.sh"

# PARANOID_MODE: before anything reads a setting, move the secrets out of the
# environment (this re-executes start.sh once).
paranoid_take_secrets "$@"

# ----------------------------------------------------------------- settings
WORKSPACE_DIR="${WORKSPACE_DIR:-/workspace}"
COMFYUI_DIR="${COMFYUI_DIR:-/opt/ComfyUI}"
KILN_PYTHON="${KILN_PYTHON:-/opt/venv/bin/python}"
KILN_HOME="${KILN_HOME:-/opt/kiln}"
KILN_MANIFEST_DIR="${KILN_MANIFEST_DIR:-$KILN_HOME/manifest}"
KILN_CONSTRAINTS="${KILN_CONSTRAINTS:-$KILN_HOME/constraints.txt}"
KILN_RUN_DIR="${KILN_RUN_DIR:-/run/kiln}"
KILN_STATE_DIR="${KILN_STATE_DIR:-/var/lib/kiln}"
KILN_LOG_DIR="${KILN_LOG_DIR:-$KILN_RUN_DIR/logs}"
KILN_BIN_DIR="${KILN_BIN_DIR:-/usr/local/bin}"
KILN_STOP_TIMEOUT="${KILN_STOP_TIMEOUT:-7}"
KILN_TEMPLATE="${KILN_TEMPLATE:-}"
KILN_GPU="${KILN_GPU:-}"
KILN_SM="${KILN_SM:-}"
KILN_ATTENTION="${KILN_ATTENTION:-}"
KILN_TMP_DIR="${KILN_TMP_DIR:-${TMPDIR:-/tmp}}"
KILN_NVIDIA_SMI="${KILN_NVIDIA_SMI:-nvidia-smi}"
DEBUG_MODE="${DEBUG_MODE:-false}"

COMFYUI_PORT="${COMFYUI_PORT:-8188}"
COMFY_ARGS="${COMFY_ARGS:-}"
COMFY_READY_TIMEOUT="${COMFY_READY_TIMEOUT:-600}"
COMFY_BACKOFF_START="${COMFY_BACKOFF_START:-2}"
COMFY_BACKOFF_MAX="${COMFY_BACKOFF_MAX:-60}"
COMFY_STABLE_SECS="${COMFY_STABLE_SECS:-120}"
COMFY_PERF_FLAGS="${COMFY_PERF_FLAGS:-}"
ENABLE_MANAGER_UI="${ENABLE_MANAGER_UI:-false}"

PUBLIC_KEY="${PUBLIC_KEY:-}"
SSH_PORT="${SSH_PORT:-22}"
SSHD_BIN="${SSHD_BIN:-/usr/sbin/sshd}"
SSH_HOST_KEY_DIR="${SSH_HOST_KEY_DIR:-/etc/ssh}"

ENABLE_FILEBROWSER="${ENABLE_FILEBROWSER:-true}"
FILEBROWSER_BIN="${FILEBROWSER_BIN:-filebrowser}"
FILEBROWSER_PORT="${FILEBROWSER_PORT:-8080}"
FILEBROWSER_USER="${FILEBROWSER_USER:-admin}"
FILEBROWSER_PASSWORD="${FILEBROWSER_PASSWORD:-}"
FILEBROWSER_ROOT="${FILEBROWSER_ROOT:-}"

ENABLE_JUPYTER="${ENABLE_JUPYTER:-false}"
JUPYTER_BIN="${JUPYTER_BIN:-jupyter}"
JUPYTER_PORT="${JUPYTER_PORT:-8888}"
JUPYTER_TOKEN="${JUPYTER_TOKEN:-}"

ENABLE_LLM="${ENABLE_LLM:-false}"
LLAMA_SERVER_BIN="${LLAMA_SERVER_BIN:-/opt/llama/llama-server}"
LLM_PORT="${LLM_PORT:-8081}"
LLM_MODEL="${LLM_MODEL:-}"
LLM_ARGS="${LLM_ARGS:--ngl 99}"

SKIP_MODEL_DOWNLOAD="${SKIP_MODEL_DOWNLOAD:-false}"
CUSTOM_NODES="${CUSTOM_NODES:-}"

ENABLE_STATUS="${ENABLE_STATUS:-true}"
STATUS_PORT="${STATUS_PORT:-9188}"
STATUS_HOST="${STATUS_HOST:-0.0.0.0}"

NUKE_ON_STOP="${NUKE_ON_STOP:-false}"
NUKE_MODELS="${NUKE_MODELS:-false}"
PRIVACY_MODE="${PRIVACY_MODE:-false}"
PRIVACY_LOG_INTERVAL="${PRIVACY_LOG_INTERVAL:-120}"
KILN_HOSTS_FILE="${KILN_HOSTS_FILE:-/etc/hosts}"
PARANOID_MODE="${PARANOID_MODE:-false}"
KILN_USER="${KILN_USER:-}"

# Standard ComfyUI model folders (+ llm for llama-server GGUF files).
MODEL_FOLDERS=(checkpoints loras vae clip clip_vision text_encoders diffusion_models unet
  controlnet upscale_models embeddings hypernetworks style_models gligen photomaker
  vae_approx diffusers configs model_patches audio_encoders llm)

# ------------------------------------------------------------------ logging
log_line() {
  local level=$1 ts
  shift
  TZ=UTC printf -v ts '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf '%s [kiln] %-5s %s\n' "$ts" "$level" "$*"
}
log() { log_line INFO "$@"; }
warn() { log_line WARN "$@"; }
err() { log_line ERROR "$@"; }
debug() { if [[ $DEBUG_MODE == true ]]; then log_line DEBUG "$@"; fi; }

# Hide credentials in URLs (https://user:token@host, ?token=...).
redact_url() {
  local u=$1
  u=$(sed -E 's#(://)[^/@[:space:]]+@#\1***@#g; s#([?&](token|access_token|key|sig|signature)=)[^&[:space:]]*#\1***#gI' <<<"$u")
  printf '%s' "$u"
}

have() { command -v "$1" >/dev/null 2>&1; }
is_true() { [[ ${1,,} == true || $1 == 1 || ${1,,} == yes ]]; }

# Small state files that comfyctl and the status endpoint read: 0644 whatever
# the umask. Never a secret.
put() { # file value
  [[ -d ${1%/*} ]] || return 0
  local new=0
  [[ -e $1 ]] || new=1
  printf '%s\n' "$2" >"$1" 2>/dev/null || return 0
  if ((new)); then chmod 644 "$1" 2>/dev/null; fi
  return 0
}
service_record() { # name pid port: for the status endpoint
  mkdir -p "$KILN_RUN_DIR/services" 2>/dev/null && chmod 755 "$KILN_RUN_DIR/services" 2>/dev/null
  put "$KILN_RUN_DIR/services/$1" "$2 $3"
}

now() { # seconds with decimals when bash has EPOCHREALTIME
  if [[ -n ${EPOCHREALTIME:-} ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s; fi
}
now_us() { # integer microseconds (whole seconds when bash lacks EPOCHREALTIME)
  local t=${EPOCHREALTIME:-}
  if [[ -n $t ]]; then t=${t/[.,]/}; printf '%s' "$((10#$t))"; else printf '%s' "$(($(date +%s) * 1000000))"; fi
}
elapsed_since() { # start -> "12.3"
  awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

SYS_PYTHON=""
for p in python3 "$KILN_PYTHON"; do
  if have "$p"; then SYS_PYTHON=$(command -v "$p"); break; fi
done

# --------------------------------------------------------------- processes
declare -A CHILDREN=()   # pid -> name (everything stop_all must end)
LAST_PID=""
STOPPING=0

alive() { # pid is running (zombies count as dead)
  local s
  kill -0 "$1" 2>/dev/null || return 1
  s=$(<"/proc/$1/stat") 2>/dev/null || return 0
  s=${s##*) }
  [[ ${s%% *} != Z ]]
}

# exec "$@" in its own session (so stop_all can signal the whole process
# tree); with --user first, as KILN_USER when that is set up (user.sh).
detach() {
  local -a pre=()
  if [[ ${1:-} == --user ]]; then
    shift
    if [[ -n $USER_UID ]]; then
      export HOME=$USER_HOME USER=$KILN_USER LOGNAME=$KILN_USER
      pre=(setpriv --reuid="$USER_UID" --regid="$USER_GID" --init-groups --)
    fi
  fi
  if have setsid; then exec setsid "${pre[@]}" "$@"; else exec "${pre[@]}" "$@"; fi
}
with_env() { # NAME VALUE cmd...: set one variable for the child only
  export "$1=$2"
  shift 2
  "$@"
}
with_umask() { # mask cmd...: exec cmd with its own umask
  umask "$1"
  shift
  exec "$@"
}
spawn() { # name logfile cmd...
  local name=$1 logf=$2
  shift 2
  if [[ $logf == - ]]; then
    "$@" &
  else
    "$@" >>"$logf" 2>&1 &
  fi
  LAST_PID=$!
  CHILDREN[$LAST_PID]=$name
  debug "started $name (pid $LAST_PID)"
}

signal_tree() { # signal pid: the process group first, the pid as fallback
  kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true
}

# Run a command in the background and wait for it, so that signals
# (SIGTERM from `docker stop`) are handled while it runs.
run_bg() {
  local rc pid
  "$@" &
  pid=$!
  CHILDREN[$pid]=job
  while :; do
    wait "$pid"
    rc=$?
    alive "$pid" || break
  done
  if ((rc > 128)); then
    wait "$pid" 2>/dev/null
    local rc2=$?
    ((rc2 != 127)) && rc=$rc2
  fi
  unset "CHILDREN[$pid]"
  return "$rc"
}

wait_gone() { # microseconds pid...: until every pid has ended, or the time is up
  local deadline=$(($(now_us) + $1)) pid
  shift
  for pid in "$@"; do
    while alive "$pid" && (($(now_us) < deadline)); do sleep 0.05; done
  done
}

stop_all() {
  local pid
  for pid in "${!CHILDREN[@]}"; do
    alive "$pid" && signal_tree TERM "$pid"
  done
  wait_gone $((KILN_STOP_TIMEOUT * 1000000)) "${!CHILDREN[@]}"
  local killed=()
  for pid in "${!CHILDREN[@]}"; do
    if alive "$pid"; then
      warn "${CHILDREN[$pid]} (pid $pid) ignored SIGTERM for ${KILN_STOP_TIMEOUT}s; killing it"
      signal_tree KILL "$pid"
      killed+=("$pid")
    fi
  done
  # SIGKILL is delivered asynchronously: on a busy machine the child can
  # still be running when kill returns. Wait (bounded) until it is gone, so
  # "stopped" in the log means every child has ended.
  wait_gone 2000000 "${killed[@]}"
}

on_term() {
  ((STOPPING)) && return
  STOPPING=1
  local trigger=SIGTERM
  [[ -f $KILN_RUN_DIR/stop-pod ]] && trigger="comfyctl stop-pod"
  log "stop ($trigger): stopping ComfyUI and services"
  set_state stopping
  stop_all
  exit_cleanup "$trigger"
  rm -f "$KILN_RUN_DIR/supervisor.pid" "$KILN_RUN_DIR/comfyui.pid" "$KILN_RUN_DIR/comfyui.ready" "$KILN_RUN_DIR/stop-pod"
  log "stopped"
  exit 0
}

# After every child has stopped: PARANOID_MODE shreds its set; NUKE_ON_STOP
# deletes user data, but only when ComfyUI became ready in this container
# (a failed start keeps everything for debugging).
exit_cleanup() {
  if is_true "$PARANOID_MODE"; then cleanup_run shred "$1, PARANOID_MODE" paranoid; fi
  is_true "$NUKE_ON_STOP" || return 0
  local ready=""
  [[ -f $KILN_RUN_DIR/comfyui.ever-ready ]] && ready=$(<"$KILN_RUN_DIR/comfyui.ever-ready")
  if [[ $ready != "$RUN_ID "* ]]; then
    warn "NUKE_ON_STOP: ComfyUI never became ready in this container; nothing deleted (kept for debugging)"
    return 0
  fi
  local -a sets=(nuke)
  is_true "$NUKE_MODELS" && sets+=(models)
  log "NUKE_ON_STOP: ComfyUI was ready in this container; deleting ${sets[*]} (list: scripts/lib/cleanup.list)"
  cleanup_run delete "$1, NUKE_ON_STOP" "${sets[@]}"
}

# ------------------------------------------------------------------- layout
PERSIST=0
DATA_DIR=""
MODELS_DIR=""
NODES_DIR=""

setup_layout() {
  mkdir -p "$KILN_RUN_DIR" "$KILN_LOG_DIR" "$KILN_STATE_DIR" 2>/dev/null ||
    warn "cannot create $KILN_RUN_DIR / $KILN_STATE_DIR; comfyctl will not work"
  # Readable whatever the umask (PARANOID_MODE: 077): the status endpoint may
  # run as KILN_USER; nothing secret is kept there (logs are not).
  chmod 755 "$KILN_RUN_DIR" "$KILN_STATE_DIR" 2>/dev/null
  if [[ -d $WORKSPACE_DIR && -w $WORKSPACE_DIR ]] && touch "$WORKSPACE_DIR/.kiln-write-test" 2>/dev/null; then
    rm -f "$WORKSPACE_DIR/.kiln-write-test"
    PERSIST=1
    DATA_DIR="$WORKSPACE_DIR/ComfyUI"
    if have mountpoint && mountpoint -q "$WORKSPACE_DIR"; then
      log "workspace: $WORKSPACE_DIR is a mounted volume; models, outputs, inputs, user data and extra nodes persist in $DATA_DIR"
    else
      log "workspace: $WORKSPACE_DIR is writable but not a mount; data goes to $DATA_DIR (lost with the container disk)"
    fi
  else
    PERSIST=0
    DATA_DIR="$COMFYUI_DIR"
    warn "workspace: no writable $WORKSPACE_DIR; models, outputs and extra nodes are ephemeral (inside the container)"
  fi
  MODELS_DIR="$DATA_DIR/models"
  NODES_DIR="$DATA_DIR/custom_nodes"
  if ((PERSIST)); then KILN_CLEANUP_RECORD="$WORKSPACE_DIR/.kiln/last-cleanup.json"; else KILN_CLEANUP_RECORD="$KILN_STATE_DIR/last-cleanup.json"; fi
  local f
  for f in "${MODEL_FOLDERS[@]}"; do mkdir -p "$MODELS_DIR/$f"; done
  mkdir -p "$DATA_DIR"/{output,input,user,custom_nodes}
  if ((PERSIST)); then
    persist_dir output
    persist_dir input
    persist_dir user
    link_custom_nodes
  fi
}

# $COMFYUI_DIR/<name> becomes a link to the persistent $DATA_DIR/<name>;
# what the image shipped there is copied over once (without overwriting).
persist_dir() {
  local name=$1 src="$COMFYUI_DIR/$1" dst="$DATA_DIR/$1"
  if [[ -L $src ]]; then
    [[ $(readlink "$src") == "$dst" ]] && return
    rm -f "$src"
  elif [[ -d $src ]]; then
    cp -a -n "$src/." "$dst/" 2>/dev/null || true
    rm -rf "$src.image"
    if ! mv "$src" "$src.image"; then
      err "cannot move $src aside; $name is not persistent"
      return
    fi
  fi
  ln -sfn "$dst" "$src" && debug "$src -> $dst"
}

# Baked nodes stay in the image ($COMFYUI_DIR/custom_nodes.baked after the
# first boot) and are linked into the persistent custom_nodes dir, next to
# the extra nodes; $COMFYUI_DIR/custom_nodes points there, so nodes that
# ComfyUI-Manager installs persist too.
link_custom_nodes() {
  local image_nodes="$COMFYUI_DIR/custom_nodes" baked="$COMFYUI_DIR/custom_nodes.baked" entry name target
  if [[ -d $image_nodes && ! -L $image_nodes ]]; then
    rm -rf "$baked"
    mv "$image_nodes" "$baked" || { err "cannot move $image_nodes aside; extra nodes stay ephemeral"; NODES_DIR=$image_nodes; return; }
  fi
  ln -sfn "$NODES_DIR" "$image_nodes"
  for entry in "$baked"/*; do
    name=${entry##*/}
    target="$NODES_DIR/$name"
    if [[ -L $target ]]; then
      [[ $(readlink "$target") == "$entry" ]] || ln -sfn "$entry" "$target"
    elif [[ -e $target ]]; then
      warn "custom_nodes/$name in the workspace shadows the node baked into the image"
    else
      ln -s "$entry" "$target"
    fi
  done
  for target in "$NODES_DIR"/*; do # links to baked nodes the image no longer has
    if [[ -L $target && ! -e $target && $(readlink "$target") == "$baked/"* ]]; then
      rm -f "$target"
    fi
  done
}

write_model_paths() { # extra_model_paths.yaml for the persistent models dir
  ((PERSIST)) || return 0
  local yaml="$KILN_RUN_DIR/extra_model_paths.yaml" d f
  local -A seen=()
  {
    echo "# GENERATED by start.sh at every start; edits are lost (see docs/runtime.md)"
    echo "kiln_workspace:"
    printf '  base_path: "%s"\n' "$MODELS_DIR"
    echo "  is_default: true"
    for f in "${MODEL_FOLDERS[@]}"; do
      seen[$f]=1
      printf '  %s: %s\n' "$f" "$f"
    done
    for d in "$MODELS_DIR"/*/; do
      f=${d%/}
      f=${f##*/}
      [[ -n ${seen[$f]:-} || ! $f =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] && continue
      printf '  %s: %s\n' "$f" "$f"
    done
  } >"$yaml.tmp" && mv "$yaml.tmp" "$yaml" && chmod 644 "$yaml"
  COMFY_EXTRA_ARGS+=(--extra-model-paths-config "$yaml")
}

log_baked_nodes() {
  local lock="$KILN_MANIFEST_DIR/nodes.lock.json" line
  [[ -f $lock && -n $SYS_PYTHON ]] || return 0
  line=$("$SYS_PYTHON" - "$lock" <<'PY' 2>/dev/null
import json, sys
doc = json.load(open(sys.argv[1]))
print(", ".join(f"{n['name']}@{str(n.get('commit', ''))[:12]}" for n in doc.get("nodes", [])) or "none")
PY
) || { warn "cannot read $lock"; return 0; }
  log "baked custom nodes: $line"
}

# ----------------------------------------------------------------- services
gen_secret() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }

start_ssh() {
  if [[ -z $PUBLIC_KEY ]]; then
    log "SSH: off (set PUBLIC_KEY to enable key-only SSH)"
    return
  fi
  local sshd=$SSHD_BIN
  if [[ ! -x $sshd ]]; then
    sshd=$(command -v sshd 2>/dev/null) || {
      warn "SSH: PUBLIC_KEY is set but sshd is not installed in this image; skipped"
      return
    }
  fi
  have ssh-keygen || { warn "SSH: ssh-keygen is missing; skipped"; return; }
  local home=${HOME:-/root} key t conf="$KILN_RUN_DIR/sshd_config"
  mkdir -p "$home/.ssh" && chmod 700 "$home/.ssh"
  touch "$home/.ssh/authorized_keys" && chmod 600 "$home/.ssh/authorized_keys"
  while IFS= read -r key; do
    key=${key%$'\r'}
    [[ -z $key ]] && continue
    grep -qxF -- "$key" "$home/.ssh/authorized_keys" || printf '%s\n' "$key" >>"$home/.ssh/authorized_keys"
  done <<<"${PUBLIC_KEY//\\n/$'\n'}"
  mkdir -p "$SSH_HOST_KEY_DIR"
  {
    echo "# GENERATED by start.sh: key-only SSH"
    echo "Port $SSH_PORT"
    for t in ed25519 rsa; do
      [[ -f $SSH_HOST_KEY_DIR/ssh_host_${t}_key ]] ||
        ssh-keygen -q -t "$t" -N '' -f "$SSH_HOST_KEY_DIR/ssh_host_${t}_key" </dev/null >/dev/null 2>&1 ||
        warn "SSH: cannot create the $t host key"
      [[ -f $SSH_HOST_KEY_DIR/ssh_host_${t}_key ]] && echo "HostKey $SSH_HOST_KEY_DIR/ssh_host_${t}_key"
    done
    cat <<EOF
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
PrintMotd no
PidFile $KILN_RUN_DIR/sshd.pid
Subsystem sftp internal-sftp
EOF
    # PARANOID_MODE: no shell history in SSH sessions either.
    if is_true "$PARANOID_MODE"; then echo "SetEnv HISTFILE=/dev/null HISTSIZE=0 HISTFILESIZE=0 LESSHISTFILE=-"; fi
  } >"$conf"
  mkdir -p /run/sshd 2>/dev/null || true
  if ! "$sshd" -t -f "$conf" >>"$KILN_LOG_DIR/sshd.log" 2>&1; then
    err "SSH: sshd rejected $conf (see $KILN_LOG_DIR/sshd.log); skipped"
    return
  fi
  spawn sshd "$KILN_LOG_DIR/sshd.log" detach "$sshd" -D -e -f "$conf"
  service_record sshd "$LAST_PID" "$SSH_PORT"
  log "SSH: key-only sshd on port $SSH_PORT (password login disabled)"
}

# FileBrowser (v2.59.0) takes a password only on its command line (`users add
# U P`, `users update U --password P`), where `ps` shows it. So the user is
# made with a throwaway password (replaced before FileBrowser serves), and the
# real one goes in as a bcrypt hash through `users export` / `users import`
# files in a private dir; fb_password.py hashes it, reading it from its
# environment.
fb_set_password() { # filebrowser db password
  local fb=$1 db=$2 dir rc=0
  if ((${#3} < 12)); then
    echo "kiln: FileBrowser wants a password of at least 12 characters"
    return 1
  fi
  [[ -n $SYS_PYTHON ]] || { echo "kiln: no python3 to hash the password"; return 1; }
  dir=$(mktemp -d) || return 1
  if ! "$fb" users find "$FILEBROWSER_USER" -d "$db" >/dev/null 2>&1; then
    "$fb" users add "$FILEBROWSER_USER" "$(gen_secret)" --perm.admin -d "$db" || rc=1
  fi
  ((rc)) || "$fb" users export "$dir/users.json" -d "$db" || rc=1
  ((rc)) || KILN_FB_PASSWORD=$3 "$SYS_PYTHON" "$SCRIPT_DIR/fb_password.py" "$dir/users.json" "$FILEBROWSER_USER" || rc=1
  ((rc)) || "$fb" users import "$dir/users.json" --overwrite -d "$db" || rc=1
  rm -rf "$dir"
  return "$rc"
}

start_filebrowser() {
  if ! is_true "$ENABLE_FILEBROWSER"; then
    log "FileBrowser: off (ENABLE_FILEBROWSER=$ENABLE_FILEBROWSER)"
    return
  fi
  local fb
  fb=$(command -v "$FILEBROWSER_BIN" 2>/dev/null) || {
    log "FileBrowser: not installed in this image ($FILEBROWSER_BIN); skipped"
    return
  }
  local dbdir db root=$FILEBROWSER_ROOT pass="" generated=0 logf="$KILN_LOG_DIR/filebrowser.log"
  if ((PERSIST)); then dbdir="$WORKSPACE_DIR/.kiln"; else dbdir="$KILN_STATE_DIR"; fi
  [[ -n $root ]] || { if ((PERSIST)); then root=$WORKSPACE_DIR; else root=$DATA_DIR; fi; }
  mkdir -p "$dbdir"
  db="$dbdir/filebrowser.db"
  if [[ ! -f $db ]]; then
    "$fb" config init -d "$db" >>"$logf" 2>&1 || { err "FileBrowser: config init failed (see $logf); skipped"; return; }
    [[ -n $FILEBROWSER_PASSWORD ]] || { pass=$(gen_secret); generated=1; }
  fi
  "$fb" config set -d "$db" --address 0.0.0.0 --port "$FILEBROWSER_PORT" --root "$root" >>"$logf" 2>&1 ||
    warn "FileBrowser: config set failed (see $logf)"
  [[ -n $FILEBROWSER_PASSWORD ]] && pass=$FILEBROWSER_PASSWORD
  if [[ -n $pass ]]; then
    fb_set_password "$fb" "$db" "$pass" >>"$logf" 2>&1 ||
      { err "FileBrowser: cannot set the password of $FILEBROWSER_USER (see $logf); skipped"; return; }
  fi
  user_own "$db"
  spawn filebrowser "$logf" detach --user "$fb" -d "$db"
  service_record filebrowser "$LAST_PID" "$FILEBROWSER_PORT"
  log "FileBrowser: port $FILEBROWSER_PORT, user $FILEBROWSER_USER, root $root"
  if ((generated)); then
    log "FileBrowser: generated password (shown once, kept in $db): $pass"
  elif [[ -z $FILEBROWSER_PASSWORD ]]; then
    log "FileBrowser: password unchanged (generated at the first start; set FILEBROWSER_PASSWORD to reset it)"
  fi
}

start_jupyter() {
  if ! is_true "$ENABLE_JUPYTER"; then
    debug "Jupyter: off (set ENABLE_JUPYTER=true)"
    return
  fi
  local jb token=$JUPYTER_TOKEN root
  jb=$(command -v "$JUPYTER_BIN" 2>/dev/null) || {
    warn "Jupyter: ENABLE_JUPYTER=true but jupyter is not installed in this image; skipped"
    return
  }
  if ((PERSIST)); then root=$WORKSPACE_DIR; else root=$DATA_DIR; fi
  [[ -n $token ]] || token=$(gen_secret)
  # The token reaches Jupyter through its environment, never argv.
  spawn jupyter "$KILN_LOG_DIR/jupyter.log" with_env JUPYTER_TOKEN "$token" detach --user "$jb" lab \
    --ip=0.0.0.0 --port="$JUPYTER_PORT" --no-browser --allow-root --ServerApp.root_dir="$root"
  service_record jupyter "$LAST_PID" "$JUPYTER_PORT"
  log "Jupyter: port $JUPYTER_PORT, root $root"
  [[ -n $JUPYTER_TOKEN ]] || log "Jupyter: generated token (shown once): $token"
}

start_llm() {
  if ! is_true "$ENABLE_LLM"; then
    debug "LLM: off (set ENABLE_LLM=true)"
    return
  fi
  if [[ ! -x $LLAMA_SERVER_BIN ]]; then
    warn "LLM: ENABLE_LLM=true but this image has no llama-server ($LLAMA_SERVER_BIN); skipped"
    return
  fi
  local model="" f
  if [[ -n $LLM_MODEL ]]; then
    if [[ $LLM_MODEL == /* ]]; then model=$LLM_MODEL; else model="$MODELS_DIR/llm/$LLM_MODEL"; fi
    [[ -f $model ]] || { warn "LLM: LLM_MODEL $model does not exist; skipped"; return; }
  else
    for f in "$MODELS_DIR"/llm/*.gguf "$MODELS_DIR"/llm/*/*.gguf "$COMFYUI_DIR"/models/llm/*.gguf; do
      [[ $f =~ -0*([2-9]|[1-9][0-9]+)-of-[0-9]+\.gguf$ ]] && continue # not the first shard
      model=$f
      break
    done
    [[ -n $model ]] || { warn "LLM: no GGUF model in $MODELS_DIR/llm; skipped"; return; }
  fi
  local -a args=()
  read -r -a args <<<"$LLM_ARGS"
  spawn llama-server "$KILN_LOG_DIR/llama-server.log" detach --user "$LLAMA_SERVER_BIN" -m "$model" \
    --host 0.0.0.0 --port "$LLM_PORT" "${args[@]}"
  service_record llama-server "$LAST_PID" "$LLM_PORT"
  log "LLM: llama-server on port $LLM_PORT with ${model##*/} (log: $KILN_LOG_DIR/llama-server.log)"
}

# ------------------------------------------------------------ custom nodes
install_requirements() { # node-dir name commit
  local name=$2 commit=$3 req="$1/requirements.txt" marker stamp
  [[ -f $req ]] || return 0
  marker="$KILN_STATE_DIR/nodes/$name.installed"
  stamp="$commit $(cksum <"$req" | tr -d ' ') $KILN_PYTHON"
  if [[ -f $marker && $(<"$marker") == "$stamp" ]]; then
    debug "custom node $name: requirements already installed"
    return 0
  fi
  local -a pip=("$KILN_PYTHON" -m pip install --no-input --disable-pip-version-check -r "$req")
  if [[ -f $KILN_CONSTRAINTS ]]; then
    pip+=(-c "$KILN_CONSTRAINTS")
  else
    warn "custom node $name: no constraints file at $KILN_CONSTRAINTS; its requirements may change torch"
  fi
  log "custom node $name: installing requirements${KILN_CONSTRAINTS:+ (constrained by $KILN_CONSTRAINTS)}"
  # umask 022: the venv is shared code that KILN_USER must read (PARANOID_MODE sets 077).
  if run_bg with_umask 022 "${pip[@]}" > >(sed 's/^/    pip: /') 2>&1; then
    mkdir -p "${marker%/*}" && printf '%s' "$stamp" >"$marker"
  else
    err "custom node $name: pip install failed; the node may not load"
    return 1
  fi
}

install_custom_nodes() {
  [[ -n $CUSTOM_NODES ]] || return 0
  have git || { err "CUSTOM_NODES is set but git is not installed; skipped"; return 0; }
  local spec url ref name dest shown want head fresh
  local -a failed=()
  export GIT_TERMINAL_PROMPT=0
  for spec in ${CUSTOM_NODES//,/ }; do
    shown=$(redact_url "$spec")
    url=${spec%@*}
    ref=${spec##*@}
    if [[ $url == -* || $ref == -* ]]; then
      # git would read "--upload-pack=..." as an option, whatever follows it.
      err "CUSTOM_NODES: '$shown' starts with '-': that is a command-line option, not a repository; write <repo url>@<tag or commit>"
      failed+=("$shown")
      continue
    fi
    if [[ $spec != *@* || -z $ref || -z $url || $ref == */* || $ref == *:* ]]; then
      err "CUSTOM_NODES: '$shown' is not pinned; write <repo url>@<tag or commit>, e.g. https://github.com/owner/repo@v1.2.0 or @<40-hex commit>"
      failed+=("$shown")
      continue
    fi
    name=${url%/}
    name=${name%.git}
    name=${name##*/}
    name=${name##*:}
    if [[ ! $name =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]]; then
      err "CUSTOM_NODES: cannot derive a folder name from '$shown'"
      failed+=("$shown")
      continue
    fi
    dest="$NODES_DIR/$name"
    if [[ -L $dest ]]; then
      log "custom node $name: CUSTOM_NODES replaces the node baked into the image"
      rm -f "$dest"
    fi
    fresh=0
    if [[ -d $dest/.git ]]; then
      head=$(git -C "$dest" rev-parse HEAD 2>/dev/null)
      want=$(git -C "$dest" rev-parse -q --verify "$ref^{commit}" 2>/dev/null)
      if [[ -z $want || $want != "$head" ]]; then
        run_bg git -C "$dest" fetch -q --tags origin || warn "custom node $name: fetch failed"
      fi
    elif [[ -e $dest ]]; then
      err "custom node $name: $dest exists and is not a git checkout; leaving it alone"
      failed+=("$shown")
      continue
    else
      log "custom node $name: cloning $(redact_url "$url") at $ref"
      fresh=1
      if ! run_bg git clone -q --no-checkout -- "$url" "$dest"; then
        err "custom node $name: clone of $(redact_url "$url") failed"
        rm -rf "$dest"
        failed+=("$shown")
        continue
      fi
    fi
    if git -C "$dest" show-ref -q --verify "refs/remotes/origin/$ref"; then
      err "CUSTOM_NODES: '$ref' is a branch of $name, not a pin; use a tag or a commit"
      ((fresh)) && rm -rf "$dest"
      failed+=("$shown")
      continue
    fi
    if ! git -C "$dest" -c advice.detachedHead=false checkout -q --detach "$ref^{commit}" 2>/dev/null; then
      err "custom node $name: ref '$ref' not found in $(redact_url "$url")"
      ((fresh)) && rm -rf "$dest"
      failed+=("$shown")
      continue
    fi
    if [[ -f $dest/.gitmodules ]]; then
      run_bg git -C "$dest" submodule update -q --init --recursive || warn "custom node $name: submodules failed"
    fi
    head=$(git -C "$dest" rev-parse HEAD)
    log "custom node $name: at ${head:0:12} ($ref)"
    install_requirements "$dest" "$name" "$head" || failed+=("$shown")
  done
  ((${#failed[@]} == 0)) || warn "custom nodes with problems: ${failed[*]}"
}

# ------------------------------------------------------------------- models
fetch_models() {
  if is_true "$SKIP_MODEL_DOWNLOAD"; then
    log "models: SKIP_MODEL_DOWNLOAD=true; not fetching"
    put "$KILN_RUN_DIR/models.state" skipped
    return 0
  fi
  if [[ -z $SYS_PYTHON ]]; then
    err "models: no python3 in this image; cannot fetch models"
    put "$KILN_RUN_DIR/models.state" "failed 127"
    return 0
  fi
  local report="$KILN_RUN_DIR/models-report.json" rc missing
  local -a args=("$SCRIPT_DIR/fetch_models.py" --manifest "$KILN_MANIFEST_DIR/models.json"
    --models-dir "$MODELS_DIR" --report "$report")
  is_true "$DEBUG_MODE" && args+=(--debug)
  rm -f "$report"
  log "models: fetching into $MODELS_DIR"
  local t0
  t0=$(now)
  put "$KILN_RUN_DIR/models.state" running
  # The only child that gets the download tokens (PARANOID_MODE holds them unexported).
  run_bg with_download_secrets "$SYS_PYTHON" "${args[@]}"
  rc=$?
  chmod 644 "$report" 2>/dev/null # redacted by the fetcher; the status endpoint reads it
  if ((rc == 0)); then put "$KILN_RUN_DIR/models.state" "done 0"; else put "$KILN_RUN_DIR/models.state" "failed $rc"; fi
  if ((rc == 0)); then
    log "models: all present ($(elapsed_since "$t0") s)"
    return 0
  fi
  missing=$("$SYS_PYTHON" -c 'import json,sys; print(", ".join(json.load(open(sys.argv[1]))["missing"]))' "$report" 2>/dev/null)
  err "models: the fetcher failed (exit $rc); ComfyUI starts anyway. Missing: ${missing:-unknown (see the fetch log above)}"
}

# ------------------------------------------------------------------ ComfyUI
COMFY_PID=""
COMFY_WANT=running   # running | stopped
RESTART_REQ=0
SLEEP_PID=""
READY_PID=""
RESTARTS=0
declare -a COMFY_EXTRA_ARGS=()
BOOT_T0=$(now)
# Marks what this start.sh run wrote (a marker left by an earlier run in the
# same container must not count).
RUN_ID="$$.$(now_us)"

set_state() { put "$KILN_RUN_DIR/comfyui.state" "$1"; }

interrupt_sleep() { if [[ -n $SLEEP_PID ]]; then kill "$SLEEP_PID" 2>/dev/null; fi; }

terminate_comfy() { # TERM now, KILL after KILN_STOP_TIMEOUT
  [[ -n $COMFY_PID ]] && alive "$COMFY_PID" || return 0
  signal_tree TERM "$COMFY_PID"
  local pid=$COMFY_PID
  (
    deadline=$(($(now_us) + KILN_STOP_TIMEOUT * 1000000))
    while (($(now_us) < deadline)); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  ) &
}

on_restart() {
  log "soft restart requested"
  RESTART_REQ=1
  COMFY_WANT=running
  interrupt_sleep
  terminate_comfy
}
on_stop_comfy() {
  log "stop requested: ComfyUI stays down until \`comfyctl start\` (services keep running)"
  COMFY_WANT=stopped
  interrupt_sleep
  terminate_comfy
}
on_start_comfy() {
  log "start requested"
  COMFY_WANT=running
  interrupt_sleep
}

sleep_interruptible() {
  sleep "$1" &
  SLEEP_PID=$!
  wait "$SLEEP_PID" 2>/dev/null
  kill "$SLEEP_PID" 2>/dev/null
  SLEEP_PID=""
}

http_ok() { # port path: true on HTTP 200
  local fd line
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&"$fd"
  IFS= read -r -t 5 line <&"$fd"
  while IFS= read -r -t 2 _ <&"$fd"; do :; done # drain: no reset for the server
  exec {fd}>&-
  [[ $line =~ ^HTTP/1\.[01]\ 200 ]]
}

watch_ready() { # pid t0: logs once /system_stats answers
  local pid=$1 t0=$2 deadline=$((SECONDS + COMFY_READY_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if http_ok "$COMFYUI_PORT" /system_stats 2>/dev/null; then
      put "$KILN_RUN_DIR/comfyui.ready" "$pid"
      # NUKE_ON_STOP runs only in a container where ComfyUI was ready once.
      put "$KILN_RUN_DIR/comfyui.ever-ready" "$RUN_ID $pid"
      set_state running
      log "ComfyUI ready in $(elapsed_since "$t0") s on port $COMFYUI_PORT (pid $pid; $(elapsed_since "$BOOT_T0") s since container start)"
      exit 0
    fi
    if ((SECONDS > deadline)); then
      warn "ComfyUI not ready after ${COMFY_READY_TIMEOUT}s (GET /system_stats on port $COMFYUI_PORT)"
      exit 1
    fi
    sleep 0.5
  done
}

comfy_args() {
  COMFY_CMD=("$KILN_PYTHON" main.py --listen --port "$COMFYUI_PORT")
  case "${KILN_ATTENTION,,}" in
  sage) [[ $COMFY_ARGS == *--use-*-attention* ]] || COMFY_CMD+=(--use-sage-attention) ;;
  flash) [[ $COMFY_ARGS == *--use-*-attention* ]] || COMFY_CMD+=(--use-flash-attention) ;;
  "" | none) ;;
  *) warn "KILN_ATTENTION=$KILN_ATTENTION is not sage, flash or empty; no attention flag" ;;
  esac
  COMFY_CMD+=("${COMFY_EXTRA_ARGS[@]}")
  perf_flags
  local -a user=()
  read -r -a user <<<"$COMFY_ARGS"
  COMFY_CMD+=("${user[@]}")
}

launch_comfy() {
  rm -f "$KILN_RUN_DIR/comfyui.ready"
  set_state starting
  local t0
  t0=$(now)
  manager_ui_apply
  log "starting ComfyUI: ${COMFY_CMD[*]}"
  (cd "$COMFYUI_DIR" && detach --user "${COMFY_CMD[@]}") > >(tee -a "$KILN_LOG_DIR/comfyui.log") 2>&1 &
  COMFY_PID=$!
  COMFY_T0=$SECONDS
  CHILDREN[$COMFY_PID]=comfyui
  put "$KILN_RUN_DIR/comfyui.pid" "$COMFY_PID"
  watch_ready "$COMFY_PID" "$t0" &
  READY_PID=$!
}

wait_comfy() { # sets COMFY_RC
  local rc
  while :; do
    wait "$COMFY_PID"
    rc=$?
    alive "$COMFY_PID" || break
  done
  if ((rc > 128)); then
    wait "$COMFY_PID" 2>/dev/null
    local rc2=$?
    ((rc2 != 127)) && rc=$rc2
  fi
  kill "$READY_PID" 2>/dev/null
  unset "CHILDREN[$COMFY_PID]"
  COMFY_RC=$rc
}

supervise_comfy() {
  if [[ ! -f $COMFYUI_DIR/main.py ]]; then
    err "no ComfyUI at $COMFYUI_DIR (main.py missing); services keep running"
    set_state missing
    while :; do sleep_interruptible 3600; done
  fi
  comfy_args
  local backoff=$COMFY_BACKOFF_START up
  while :; do
    if [[ $COMFY_WANT == stopped ]]; then
      set_state stopped
      rm -f "$KILN_RUN_DIR/comfyui.pid"
      sleep_interruptible 3600
      continue
    fi
    RESTART_REQ=0
    launch_comfy
    wait_comfy
    up=$((SECONDS - COMFY_T0))
    if ((RESTART_REQ)); then
      log "ComfyUI stopped for the soft restart (after ${up}s)"
      backoff=$COMFY_BACKOFF_START
      continue
    fi
    if [[ $COMFY_WANT == stopped ]]; then
      log "ComfyUI stopped (exit $COMFY_RC)"
      continue
    fi
    ((up >= COMFY_STABLE_SECS)) && backoff=$COMFY_BACKOFF_START
    RESTARTS=$((RESTARTS + 1))
    put "$KILN_RUN_DIR/comfyui.restarts" "$RESTARTS"
    set_state backoff
    warn "ComfyUI exited with code $COMFY_RC after ${up}s; restart #$RESTARTS in ${backoff}s"
    sleep_interruptible "$backoff"
    backoff=$((backoff * 2 > COMFY_BACKOFF_MAX ? COMFY_BACKOFF_MAX : backoff * 2))
  done
}

# ------------------------------------------------------------------- status
start_status() {
  if ! is_true "$ENABLE_STATUS"; then
    log "status endpoint: off (ENABLE_STATUS=$ENABLE_STATUS)"
    return
  fi
  [[ -n $SYS_PYTHON ]] || { warn "status endpoint: no python3 in this image; skipped"; return; }
  local mode=ephemeral
  local -a disks=(--disk "models=$MODELS_DIR" --disk "comfyui=$COMFYUI_DIR" --disk "tmp=$KILN_TMP_DIR")
  if ((PERSIST)); then
    mode=persistent
    disks=(--disk "workspace=$WORKSPACE_DIR" "${disks[@]}")
  fi
  spawn status "$KILN_LOG_DIR/status.log" without_secrets detach --user "$SYS_PYTHON" "$SCRIPT_DIR/lib/status_server.py" \
    --host "$STATUS_HOST" --port "$STATUS_PORT" --run-dir "$KILN_RUN_DIR" --manifest "$KILN_MANIFEST_DIR/models.json" \
    --models-dir "$MODELS_DIR" --cleanup-record "$KILN_CLEANUP_RECORD" "${disks[@]}" \
    --template "$KILN_TEMPLATE" --gpu "$KILN_GPU" --mode "$mode"
  service_record status "$LAST_PID" "$STATUS_PORT"
  log "status endpoint: GET http://$STATUS_HOST:$STATUS_PORT/status (JSON, no secrets)"
}

# What comfyctl needs to act like start.sh from an SSH session, whose
# environment is not the container's (paths only, never a secret).
write_runtime_env() {
  local v out=""
  for v in WORKSPACE_DIR COMFYUI_DIR DATA_DIR MODELS_DIR KILN_LOG_DIR KILN_TMP_DIR HOME USER_HOME \
    NUKE_MODELS KILN_CLEANUP_RECORD; do
    printf -v out '%s%s=%q\n' "$out" "$v" "${!v}"
  done
  put "$KILN_RUN_DIR/runtime.env" "${out%$'\n'}"
}

# --------------------------------------------------------------------- main
main() {
  trap on_term TERM INT QUIT
  trap on_restart HUP
  trap on_stop_comfy USR1
  trap on_start_comfy USR2

  log "Kiln start: template=${KILN_TEMPLATE:-?} gpu=${KILN_GPU:-?} (${KILN_SM:-sm ?}) attention=${KILN_ATTENTION:-none} (pid $$)"
  paranoid_harden
  setup_layout
  rm -rf "$KILN_RUN_DIR/services" "$KILN_RUN_DIR/comfyui.ever-ready" "$KILN_RUN_DIR/stop-pod" \
    "$KILN_RUN_DIR/models.state" "$KILN_RUN_DIR/manager-ui"
  put "$KILN_RUN_DIR/supervisor.pid" "$$"
  put "$KILN_RUN_DIR/supervisor.started" "$EPOCHSECONDS"
  put "$KILN_RUN_DIR/comfyui.port" "$COMFYUI_PORT"
  put "$KILN_RUN_DIR/comfyui.restarts" 0
  # `comfyctl` on PATH for SSH / web-terminal sessions.
  if [[ -d $KILN_BIN_DIR && -w $KILN_BIN_DIR ]]; then
    ln -sfn "$SCRIPT_DIR/comfyctl" "$KILN_BIN_DIR/comfyctl" || true
  fi
  set_state preparing
  log_baked_nodes
  privacy_setup # before anything downloads
  gpu_check
  user_setup
  write_runtime_env

  start_status
  start_netlog
  start_ssh
  start_filebrowser
  start_jupyter
  ((STOPPING)) && return
  install_custom_nodes
  fetch_models
  paranoid_forget_secrets
  ((STOPPING)) && return
  write_model_paths
  user_own_data
  start_llm
  supervise_comfy
}

main "$@"
