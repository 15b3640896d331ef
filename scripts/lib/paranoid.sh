# shellcheck shell=bash
# PARANOID_MODE: secrets leave the environment before anything else runs;
# children get only the secrets they need; the process hardens itself.
# (The exit cleanup is cleanup.sh's "paranoid" set.) Sourced by start.sh.

# Variables whose values are secrets: the same patterns the fetcher's
# redactor uses, plus AWS-style key names.
is_secret_name() {
  case $1 in
  *_TOKEN | *_API_KEY | *_SECRET | *_PASSWORD | *_SECRET_KEY | *_ACCESS_KEY) return 0 ;;
  esac
  return 1
}

# Secrets that belong to one service and never go to the fetcher.
SERVICE_SECRETS=" FILEBROWSER_PASSWORD JUPYTER_TOKEN RUNPOD_API_KEY "

SECRET_NAMES=() # the secrets start.sh holds as unexported shell variables

# Paranoid mode, first thing: unset every secret and exec start.sh again, so
# that no environment (not even PID 1's /proc/1/environ, which never changes
# after exec) holds one. The values come back through an inherited pipe
# (fd 3, a here-string) as shell variables that are not exported.
paranoid_take_secrets() {
  case ${PARANOID_MODE:-false} in [Tt][Rr][Uu][Ee] | 1 | [Yy][Ee][Ss]) ;; *) return 0 ;; esac
  local name line q payload=""
  if [[ ${KILN_SECRETS_FD:-} == 3 ]]; then
    unset KILN_SECRETS_FD
    while IFS= read -r line; do
      name=${line%%=*}
      [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
      # The value was written with printf %q below: eval reads it back as is.
      eval "$name=${line#*=}"
      SECRET_NAMES+=("$name")
    done <&3
    exec 3<&-
    return 0
  fi
  for name in $(compgen -e); do
    is_secret_name "$name" || continue
    printf -v q '%q' "${!name}"
    payload+="$name=$q"$'\n'
    unset "$name"
  done
  [[ -n $payload ]] || return 0
  exec 3<<<"$payload"
  export KILN_SECRETS_FD=3
  exec "$BASH" "$SCRIPT_DIR/start.sh" "$@"
}

paranoid_harden() {
  is_true "$PARANOID_MODE" || return 0
  umask 077
  # No bytecode caches, no shell/less history in any child (Jupyter terminals
  # inherit these; SSH sessions get them through sshd's SetEnv).
  export PYTHONDONTWRITEBYTECODE=1 HISTFILE=/dev/null HISTSIZE=0 HISTFILESIZE=0 LESSHISTFILE=-
  log "paranoid mode: ${#SECRET_NAMES[@]} secret(s) out of every environment (start.sh holds them unexported), umask 077, no bytecode, no shell history; traces are shredded at exit"
}

# exec "$@" with the download secrets exported (in paranoid mode they are
# held unexported; otherwise they are in the environment already).
with_download_secrets() {
  local n
  for n in "${SECRET_NAMES[@]}"; do
    [[ $SERVICE_SECRETS == *" $n "* ]] || export "${n?}"
  done
  exec_or_call "$@"
}

# exec "$@" without any secret in its environment (Kiln's own helpers).
without_secrets() {
  local n
  for n in $(compgen -e); do
    if is_secret_name "$n"; then unset "$n"; fi
  done
  exec_or_call "$@"
}

exec_or_call() { # a command replaces this (sub)shell; a function (detach) is called and execs itself
  if declare -F -- "$1" >/dev/null; then
    "$@"
    exit
  fi
  exec "$@"
}

# Paranoid mode, once the fetcher is done: start.sh forgets every secret
# (the services that needed one are running by then).
paranoid_forget_secrets() {
  is_true "$PARANOID_MODE" || return 0
  local n
  for n in "${SECRET_NAMES[@]}"; do unset "$n"; done
  ((${#SECRET_NAMES[@]} == 0)) || log "paranoid mode: the fetcher is done; start.sh forgot ${#SECRET_NAMES[@]} secret(s)"
  SECRET_NAMES=()
}
