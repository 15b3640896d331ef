#!/usr/bin/env bash
# tools/stub-world/build.sh [--rootfs-only DIR] IMAGE_NAME [IMAGE_NAME...]
#
# Makes, for each name, a LOCAL image under exactly that name (e.g.
# nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04): static busybox, the host's
# bash, Debian's CPython (private, for the shims and for `python -c`/scripts),
# the shims, and the CUDA flavour's files as upstream.json says the real image
# has them (base, runtime, cudnn-runtime, devel, cudnn-devel). See README.md.
#
#   --rootfs-only DIR  make the rootfs of the FIRST name in DIR (must not exist
#                      or be empty) and stop: no Docker needed (tests chroot
#                      into it). Prints the image's ENV lines.
#
# Idempotent: the rootfs tar is deterministic (sorted, mtime 0, uid 0, no
# bytecode, no build ids), and an image whose label kiln.stub-world.hash
# already matches is left alone, so its image ID (and every BuildKit cache key
# under it) stays stable. Re-importing would make a new image ID (docker
# import stamps a creation time).
#
# Needs (Debian bookworm): busybox-static (tools/engine.sh up installs it),
# python3.11, gcc, the static /sbin/ldconfig.
# Env: DOCKER_HOST / DOCKER_CONFIG as usual (eval "$(tools/engine.sh env)").
#      KILN_STUB_FORCE=1 re-imports even when the hash matches.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'stub-world: ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf 'stub-world: %s\n' "$*" >&2; }

rootfs_only=""
if [[ ${1:-} == --rootfs-only ]]; then
  (($# >= 2)) || die "--rootfs-only needs a directory"
  rootfs_only=$2
  shift 2
fi
(($#)) || { printf 'usage: %s [--rootfs-only DIR] IMAGE_NAME [IMAGE_NAME...]\n' "$0" >&2; exit 2; }

BUSYBOX=${KILN_STUB_BUSYBOX:-/bin/busybox}
PY=/usr/bin/python3.11
[[ -x $BUSYBOX ]] || die "no $BUSYBOX (apt-get install busybox-static; tools/engine.sh up installs it)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked; the stub rootfs needs busybox-static (apt-get install busybox-static)"
fi
[[ -x $PY ]] || die "no $PY (Debian bookworm's python3.11: apt-get install python3.11)"
command -v gcc >/dev/null 2>&1 || die "no gcc (apt-get install gcc)"
[[ -x /sbin/ldconfig ]] || die "no /sbin/ldconfig"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# KILN_STUB_ELF_CACHE: where compiled ELF templates are kept between runs
# (keyed by stub.c and the gcc version); default: this run's temp dir.
export KILN_STUB_BUSYBOX=$BUSYBOX KILN_STUB_ELF_CACHE=${KILN_STUB_ELF_CACHE:-$work/elf}

# make_rootfs DIR NAME: the rootfs; its ENV lines go to DIR.env
make_rootfs() {
  (cd "$here" && PYTHONDONTWRITEBYTECODE=1 "$PY" -I -B -c \
    'import sys; sys.path.insert(0, "."); from kilnstub import rootfs; sys.exit(rootfs.main(sys.argv[1:]))' \
    "$1" "$2") >"$1.env"
}

if [[ -n $rootfs_only ]]; then
  if [[ -e $rootfs_only ]] && [[ -n $(ls -A "$rootfs_only") ]]; then die "$rootfs_only exists and is not empty"; fi
  mkdir -p "$rootfs_only"
  make_rootfs "$rootfs_only" "$1"
  cat "$rootfs_only.env"
  rm -f "$rootfs_only.env"
  exit 0
fi

command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH"
docker info >/dev/null 2>&1 || die "no Docker engine at ${DOCKER_HOST:-the default socket}; run tools/engine.sh up and eval \"\$(tools/engine.sh env)\""

for name in "$@"; do
  root=$work/rootfs
  rm -rf "$root" "$work/rootfs.tar"
  mkdir -p "$root"
  make_rootfs "$root" "$name"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
  changes=()
  while IFS= read -r line; do changes+=("ENV $line"); done <"$root.env"
  changes+=('CMD ["/bin/bash"]' "LABEL kiln.stub-world=1")
  hash=$( { sha256sum "$work/rootfs.tar" | cut -c1-64; printf '%s\n' "${changes[@]}"; } | sha256sum | cut -c1-64)
  have=$(docker image inspect -f '{{index .Config.Labels "kiln.stub-world.hash"}}' "$name" 2>/dev/null || true)
  if [[ $have == "$hash" && ${KILN_STUB_FORCE:-0} != 1 ]]; then
    log "$name is up to date (${hash:0:12})"
    continue
  fi
  args=()
  for c in "${changes[@]}" "LABEL kiln.stub-world.hash=$hash"; do args+=(--change "$c"); done
  docker import "${args[@]}" "$work/rootfs.tar" "$name" >/dev/null
  log "imported $name (${hash:0:12}, $(du -m "$work/rootfs.tar" | cut -f1) MB)"
done
