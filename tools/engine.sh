#!/usr/bin/env bash
# tools/engine.sh: a private Docker engine (dockerd 26 + BuildKit via buildx
# 0.13) and a loopback registry for Kiln's engine tests and CI.
#
#   tools/engine.sh up       install what is missing, start dockerd + registry, wait until ready
#   tools/engine.sh down     stop exactly the processes `up` started (by recorded pid)
#   tools/engine.sh status   say whether the engine and registry answer (exit 0 up, 3 down)
#   tools/engine.sh env      print `export DOCKER_HOST=...` / `export DOCKER_CONFIG=...` for eval
#   tools/engine.sh reset    down, then delete images, build cache and registry blobs (a fresh start)
#
# Recipe: ../shared/ENGINE.md, beside the repo (verified on these machines). The machine has
# the docker CLI but no engine, and reaches only Debian's and npm's mirrors:
#   - containerd, runc, busybox-static, docker-registry come from the system's
#     own apt sources (bookworm);
#   - dockerd (docker.io), docker-buildx and docker-cli come from Debian trixie,
#     fetched with a PRIVATE apt configuration (the system's apt sources and
#     lists are never touched) and unpacked with `dpkg -x` into a private dir.
#
# Environment:
#   KILN_ENGINE_STATE    runtime state: sockets, data-root, logs, pids   (/tmp/kiln-engine)
#   KILN_ENGINE_CACHE    downloaded .debs and the unpacked engine        (~/.cache/kiln-engine)
#   KILN_ENGINE_TIMEOUT  seconds to wait for dockerd / registry          (60)
#   KILN_REGISTRY_ADDR   registry listen address                         (127.0.0.1:5000)
set -euo pipefail

STATE=${KILN_ENGINE_STATE:-/tmp/kiln-engine}
CACHE=${KILN_ENGINE_CACHE:-${HOME:-/root}/.cache/kiln-engine}
TIMEOUT=${KILN_ENGINE_TIMEOUT:-60}
REGISTRY_ADDR=${KILN_REGISTRY_ADDR:-127.0.0.1:5000}

ENGINE_DIR="$CACHE/root"            # dpkg -x target for the trixie .debs
DEB_DIR="$CACHE/debs"               # downloaded .debs, kept between runs
SOCK="$STATE/docker.sock"
CONFIG_DIR="$STATE/docker-config"   # private DOCKER_CONFIG (cli-plugins/docker-buildx)
PIDS="$STATE/pids"                  # one file per process `up` started; `down` stops exactly these
APT_PKGS=(containerd runc busybox-static docker-registry)
TRIXIE_PKGS=(docker.io docker-buildx docker-cli)

log() { printf 'engine: %s\n' "$*" >&2; }
die() { printf 'engine: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers

docker_bin() {
  # The machine's own docker CLI if it has one, else the trixie docker-cli.
  if command -v docker >/dev/null 2>&1; then
    command -v docker
  elif [[ -x "$ENGINE_DIR/usr/bin/docker" ]]; then
    printf '%s\n' "$ENGINE_DIR/usr/bin/docker"
  else
    return 1
  fi
}

dk() {
  local bin
  bin=$(docker_bin) || die "no docker CLI found (neither on PATH nor in $ENGINE_DIR)"
  DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$CONFIG_DIR" "$bin" "$@"
}

# pid_alive PIDFILE NEEDLE: the pid in PIDFILE is alive AND its command line
# mentions NEEDLE (so a recycled pid is never mistaken for ours).
pid_alive() {
  local file=$1 needle=$2 pid
  [[ -s "$file" ]] || return 1
  pid=$(<"$file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

# A process this script has just started: it exists and has not exited (a
# zombie has). Its cmdline may still be this shell's until it execs, so the
# needle of pid_alive cannot be asked for yet (seen: "registry exited during
# startup" for a registry that was starting fine).
pid_starting() {
  local pid state
  [[ -s "$1" ]] || return 1
  pid=$(<"$1")
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/stat" ]] || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

engine_ready() { dk info >/dev/null 2>&1; }
registry_ready() { curl -sf --max-time 2 "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

tail_log() {
  local f=$1
  if [[ -s "$f" ]]; then
    printf -- '---- last lines of %s ----\n' "$f" >&2
    tail -n 30 "$f" >&2
    printf -- '----\n' >&2
  fi
}

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# ---------------------------------------------------------------- install

install_apt_prereqs() {
  local missing=() p
  for p in "${APT_PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  command -v apt-get >/dev/null 2>&1 || die "missing packages: ${missing[*]} and no apt-get on this machine"
  log "installing ${missing[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

have_trixie_debs() {
  local p
  for p in "${TRIXIE_PKGS[@]}"; do
    compgen -G "$DEB_DIR/${p}_*.deb" >/dev/null || return 1
  done
}

download_trixie_debs() (
  # (a subshell, so the EXIT trap cleans the temporary apt state)
  have_trixie_debs && exit 0
  local src=/etc/apt/sources.list.d/debian.sources
  [[ -r "$src" ]] || die "cannot read $src (needed to derive a trixie source from the machine's Debian mirror)"
  local t
  t=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$t'" EXIT
  mkdir -p "$t/parts" "$t/lists/partial" "$DEB_DIR"
  # First stanza of the machine's own Debian source, suite switched to trixie.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$src" | sed 's/^Suites:.*/Suites: trixie/' >"$t/parts/trixie.sources"
  local o=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$t/parts"
           -o "Dir::State::Lists=$t/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
  log "fetching ${TRIXIE_PKGS[*]} from Debian trixie (private apt state, system sources untouched)"
  apt-get "${o[@]}" update -qq >/dev/null 2>"$t/err" || { cat "$t/err" >&2; die "apt-get update (trixie) failed"; }
  (cd "$t" && apt-get "${o[@]}" download "${TRIXIE_PKGS[@]}" >/dev/null 2>"$t/err") \
    || { cat "$t/err" >&2; die "apt-get download ${TRIXIE_PKGS[*]} (trixie) failed"; }
  mv "$t"/*.deb "$DEB_DIR"/
  have_trixie_debs || die "trixie .debs missing after download in $DEB_DIR"
)

extract_engine() {
  local stamp="$ENGINE_DIR/.kiln-extracted" want
  want=$(cd "$DEB_DIR" && printf '%s\n' ./*.deb | sort)
  if [[ -x "$ENGINE_DIR/usr/sbin/dockerd" && -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    return 0
  fi
  log "unpacking engine .debs into $ENGINE_DIR"
  rm -rf "$ENGINE_DIR"
  mkdir -p "$ENGINE_DIR"
  local d
  for d in "$DEB_DIR"/*.deb; do dpkg -x "$d" "$ENGINE_DIR"; done
  [[ -x "$ENGINE_DIR/usr/sbin/dockerd" ]] || die "no usr/sbin/dockerd in the unpacked docker.io .deb"
  [[ -x "$ENGINE_DIR/usr/libexec/docker/cli-plugins/docker-buildx" ]] || die "no docker-buildx plugin in the unpacked .debs"
  printf '%s\n' "$want" >"$stamp"
}

install_all() {
  install_apt_prereqs
  download_trixie_debs
  extract_engine
  mkdir -p "$CONFIG_DIR/cli-plugins"
  cp -f "$ENGINE_DIR/usr/libexec/docker/cli-plugins/docker-buildx" "$CONFIG_DIR/cli-plugins/docker-buildx"
  [[ -f "$CONFIG_DIR/config.json" ]] || printf '{}\n' >"$CONFIG_DIR/config.json"
  local t
  for t in containerd runc; do command -v "$t" >/dev/null 2>&1 || die "$t not on PATH after install"; done
}

# ---------------------------------------------------------------- start / stop

wait_for() { # wait_for WHAT CHECK_FN PIDFILE NEEDLE LOG
  local what=$1 check=$2 pidfile=$3 needle=$4 logf=$5 deadline
  deadline=$((SECONDS + TIMEOUT))
  until "$check"; do
    if ! pid_alive "$pidfile" "$needle" && ! pid_starting "$pidfile"; then
      tail_log "$logf"
      die "$what exited during startup (log: $logf)"
    fi
    if ((SECONDS >= deadline)); then
      tail_log "$logf"
      die "$what not ready after ${TIMEOUT}s (log: $logf; it is still running: \`$0 down\` stops it)"
    fi
    sleep 0.3
  done
}

start_dockerd() {
  if pid_alive "$PIDS/dockerd" "$STATE"; then
    wait_for dockerd engine_ready "$PIDS/dockerd" "$STATE" "$STATE/dockerd.log"
    record_containerd
    return 0
  fi
  [[ -S "$SOCK" ]] && rm -f "$SOCK"
  rm -f "$PIDS/dockerd"
  # containerd snapshotter: dockerd needs a containerd. With no --containerd
  # flag and no system containerd at /run/containerd/containerd.sock, dockerd
  # starts its OWN managed containerd (the `containerd` binary on PATH, i.e.
  # Debian's) under $STATE/exec/containerd and stops it on exit. We record its
  # pid too so `down` can make sure it is gone.
  cat >"$STATE/daemon.json" <<'EOF'
{"features": {"containerd-snapshotter": true}, "storage-driver": "native"}
EOF
  log "starting dockerd ($("$ENGINE_DIR/usr/sbin/dockerd" --version 2>/dev/null || echo '?'))"
  PATH="$ENGINE_DIR/usr/sbin:$ENGINE_DIR/usr/bin:$PATH" setsid "$ENGINE_DIR/usr/sbin/dockerd" \
    --config-file "$STATE/daemon.json" --data-root "$STATE/data" \
    --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" \
    -H "unix://$SOCK" --iptables=false --ip-masq=false \
    </dev/null >"$STATE/dockerd.log" 2>&1 &
  # setsid execs dockerd, so $! is dockerd's pid. (dockerd's own --pidfile is
  # left to dockerd: it refuses to start if that file names a live process.)
  printf '%s\n' "$!" >"$PIDS/dockerd"
  wait_for dockerd engine_ready "$PIDS/dockerd" "$STATE" "$STATE/dockerd.log"
  record_containerd
}

# The containerd that dockerd started for itself (none if dockerd uses a
# system containerd at /run/containerd/containerd.sock).
record_containerd() {
  local cpid="$STATE/exec/containerd/containerd.pid"
  if [[ -s "$cpid" ]]; then cp "$cpid" "$PIDS/containerd"; fi
}

start_registry() {
  if pid_alive "$PIDS/registry" "$STATE/registry.yml"; then
    wait_for registry registry_ready "$PIDS/registry" "$STATE/registry.yml" "$STATE/registry.log"
    return 0
  fi
  if registry_ready; then
    die "something else already answers on http://$REGISTRY_ADDR/v2/ (not started by this script; set KILN_REGISTRY_ADDR)"
  fi
  mkdir -p "$STATE/registry"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n' \
    "$STATE/registry" "$REGISTRY_ADDR" >"$STATE/registry.yml"
  log "starting registry on $REGISTRY_ADDR"
  setsid docker-registry serve "$STATE/registry.yml" </dev/null >"$STATE/registry.log" 2>&1 &
  printf '%s\n' "$!" >"$PIDS/registry"
  wait_for registry registry_ready "$PIDS/registry" "$STATE/registry.yml" "$STATE/registry.log"
}

stop_pid() { # stop_pid NAME PIDFILE NEEDLE
  local name=$1 file=$2 needle=$3 pid i
  if ! pid_alive "$file" "$needle"; then
    rm -f "$file"
    return 0
  fi
  pid=$(<"$file")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_alive "$file" "$needle" || break
    sleep 0.2
  done
  if pid_alive "$file" "$needle"; then
    log "$name (pid $pid) did not stop in 20s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$file"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local t0=$SECONDS
  [[ $(id -u) -eq 0 ]] || die "dockerd needs root: run \`sudo $0 up\`"
  mkdir -p "$STATE" "$PIDS" "$CACHE"
  install_all
  start_dockerd
  start_registry
  log "ready in $((SECONDS - t0))s: $(versions_line)"
  log "use: eval \"\$($0 env)\""
}

cmd_down() {
  [[ -d "$STATE" ]] || { log "not running (no $STATE)"; return 0; }
  stop_pid registry "$PIDS/registry" "$STATE/registry.yml"
  stop_pid dockerd "$PIDS/dockerd" "$STATE"
  # dockerd stops its managed containerd; make sure, by the pid we recorded.
  stop_pid containerd "$PIDS/containerd" "$STATE"
  rm -f "$SOCK"
  log "stopped"
}

# Images, build cache and pushed blobs pile up across runs (11 GB after a few
# days of engine tests here, and `docker buildx prune` in the registry-cache
# test grew from 33 s to 11 min with it). reset starts over like a fresh CI
# machine; the downloaded engine packages in $CACHE stay.
cmd_reset() {
  cmd_down
  local d
  for d in "$STATE/data" "$STATE/registry" "$STATE/exec"; do
    [[ -d $d ]] || continue
    # The children, not the dir itself: the data-root may be a mount point.
    find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  done
  log "reset: removed images, build cache and registry blobs under $STATE (kept the downloads in $CACHE)"
}

versions_line() {
  local server buildx
  server=$(dk version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
  buildx=$(dk buildx version 2>/dev/null | awk '{print $2}' || echo '?')
  printf 'dockerd %s, buildx %s, docker CLI %s, registry http://%s' \
    "$server" "$buildx" "$(dk version --format '{{.Client.Version}}' 2>/dev/null || echo '?')" "$REGISTRY_ADDR"
}

cmd_status() {
  local rc=0
  if pid_alive "$PIDS/dockerd" "$STATE" && engine_ready; then
    printf 'dockerd:  running (pid %s, DOCKER_HOST=unix://%s)\n' "$(<"$PIDS/dockerd")" "$SOCK"
  else
    printf 'dockerd:  not running\n'; rc=3
  fi
  if pid_alive "$PIDS/registry" "$STATE/registry.yml" && registry_ready; then
    printf 'registry: running (pid %s, http://%s)\n' "$(<"$PIDS/registry")" "$REGISTRY_ADDR"
  else
    printf 'registry: not running\n'; rc=3
  fi
  if ((rc == 0)); then printf 'versions: %s\n' "$(versions_line)"; fi
  return "$rc"
}

cmd_env() {
  printf 'export DOCKER_HOST=%q\n' "unix://$SOCK"
  printf 'export DOCKER_CONFIG=%q\n' "$CONFIG_DIR"
  printf 'export KILN_REGISTRY=%q\n' "$REGISTRY_ADDR"
  if ! command -v docker >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # $PATH is for the eval-ing shell to expand
    printf 'export PATH=%q:"$PATH"\n' "$ENGINE_DIR/usr/bin"
  fi
}

# Sourced (test/engine-sh.test.ts): define the functions, run nothing.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  reset) cmd_reset ;;
  *) printf 'usage: %s up|down|status|env|reset\n' "$0" >&2; exit 2 ;;
esac
