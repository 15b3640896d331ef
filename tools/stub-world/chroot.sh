#!/usr/bin/env bash
# tools/stub-world/chroot.sh ROOT [NAME=VALUE...] -- COMMAND
#
# Runs COMMAND (bash -c) inside a rootfs made by `build.sh --rootfs-only ROOT`
# without Docker, with only the given environment (pass the ENV lines
# --rootfs-only printed, as a docker run would). A private mount namespace
# (unshare) gets /dev and /proc, then chroot; the mounts vanish with it.
# Root only.
set -euo pipefail
(($# >= 3)) || { echo "usage: $0 ROOT [NAME=VALUE...] -- COMMAND" >&2; exit 2; }
root=$(cd "$1" && pwd)
shift
envs=()
while (($#)) && [[ $1 != -- ]]; do envs+=("$1"); shift; done
[[ ${1:-} == -- ]] || { echo "chroot.sh: missing -- before COMMAND" >&2; exit 2; }
shift
[[ $(id -u) == 0 ]] || { echo "chroot.sh: needs root" >&2; exit 1; }
# shellcheck disable=SC2016 # expanded by the inner sh
exec unshare --mount --fork -- /bin/sh -c '
  set -e
  root=$1; cmd=$2; shift 2
  mount --make-rprivate /
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  exec chroot "$root" /usr/bin/env -i HOME=/root "$@" /bin/bash -c "$cmd"
' sh "$root" "$*" "${envs[@]}"
