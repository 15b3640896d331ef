#!/usr/bin/env bash
# tools/stub-world/build.sh IMAGE_NAME [IMAGE_NAME...]
#
# Makes, for each name, a LOCAL image under exactly that name (e.g.
# nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04) from a tiny rootfs: static
# busybox with its applet links, the host's /bin/bash + the libraries ldd
# lists, and bash shims for apt-get, python3 (venv, pip), git, cmake, nvcc,
# ninja, curl, wget, sha256sum, ldconfig that log every call to /var/log/kiln/shims.log
# and create the files later build steps need. See README.md here.
#
# Idempotent: the rootfs tar is deterministic (sorted, mtime 0, uid 0), and an
# image whose label kiln.stub-world.hash already matches is left alone, so its
# image ID (and every BuildKit cache key under it) stays stable. Re-importing
# would make a new image ID (docker import stamps a creation time).
#
# Env: DOCKER_HOST / DOCKER_CONFIG as usual (eval "$(tools/engine.sh env)").
#      KILN_STUB_FORCE=1 re-imports even when the hash matches.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'stub-world: ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf 'stub-world: %s\n' "$*" >&2; }

(($#)) || { printf 'usage: %s IMAGE_NAME [IMAGE_NAME...]\n' "$0" >&2; exit 2; }

BUSYBOX=${KILN_STUB_BUSYBOX:-/bin/busybox}
[[ -x $BUSYBOX ]] || die "no $BUSYBOX (apt-get install busybox-static; tools/engine.sh up installs it)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked; the stub rootfs needs busybox-static (apt-get install busybox-static)"
fi
command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH"
docker info >/dev/null 2>&1 || die "no Docker engine at ${DOCKER_HOST:-the default socket}; run tools/engine.sh up and eval \"\$(tools/engine.sh env)\""

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

# Tools provided by shims (busybox applets of the same name are not linked).
SHIMS=(apt-get python3 git cmake nvcc ninja curl wget sha256sum ldconfig)

make_rootfs() {
  local r=$1 p lib
  # merged /usr like Ubuntu 24.04
  mkdir -p "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" "$r/usr/lib64"
  ln -s usr/bin "$r/bin"
  ln -s usr/sbin "$r/sbin"
  ln -s usr/lib "$r/lib"
  ln -s usr/lib64 "$r/lib64"
  mkdir -p "$r"/{etc,root,home,opt,run,dev,proc,sys,tmp} \
    "$r"/var/{log/kiln,lib/apt/lists,cache/apt,lib/kiln-stub,tmp} \
    "$r"/usr/local/{bin,sbin,lib,share} "$r"/usr/local/cuda/{bin,lib64,include} \
    "$r/usr/lib/kiln-shim"
  chmod 1777 "$r/tmp" "$r/var/tmp"

  # busybox + applet links (all of them, except those a shim replaces)
  cp "$BUSYBOX" "$r/usr/bin/busybox"
  while IFS= read -r p; do
    [[ $p == */* ]] || continue
    case " ${SHIMS[*]} " in *" ${p##*/} "*) continue ;; esac
    [[ -e $r/$p || -L $r/$p ]] && continue
    mkdir -p "$(dirname "$r/$p")"
    ln -s /usr/bin/busybox "$r/$p"
  done < <("$BUSYBOX" --list-full)

  # the host's bash and the libraries it needs, at the same paths
  cp -L /bin/bash "$r/usr/bin/bash"
  while IFS= read -r lib; do
    mkdir -p "$(dirname "$r$lib")"
    cp -L "$lib" "$r$lib"
  done < <(ldd /bin/bash | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}')

  # shims
  cp "$here/shims/lib.sh" "$r/usr/lib/kiln-shim/lib.sh"
  cp "$here/shims/pip" "$r/usr/lib/kiln-shim/pip"
  for p in apt-get python3 git cmake ninja curl wget sha256sum; do cp "$here/shims/$p" "$r/usr/bin/$p"; done
  ln -s python3 "$r/usr/bin/python3.12"
  cp "$here/shims/ldconfig" "$r/usr/sbin/ldconfig"
  cp "$here/shims/nvcc" "$r/usr/local/cuda/bin/nvcc"
  chmod 755 "$r"/usr/bin/{apt-get,python3,git,cmake,ninja,curl,wget,sha256sum} "$r/usr/sbin/ldconfig" \
    "$r/usr/local/cuda/bin/nvcc" "$r/usr/lib/kiln-shim/pip"
  chmod 644 "$r/usr/lib/kiln-shim/lib.sh"

  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  printf 'PRETTY_NAME="Ubuntu 24.04 LTS (kiln stub world)"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\n' >"$r/etc/os-release"
  : >"$r/var/log/kiln/shims.log"
}

make_rootfs "$root"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
rootfs_hash=$(sha256sum "$work/rootfs.tar" | cut -c1-64)

PATH_ENV=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

for name in "$@"; do
  changes=(
    "ENV PATH=$PATH_ENV"
    "ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64"
    "ENV NVIDIA_VISIBLE_DEVICES=all"
    "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility"
  )
  # nvidia/cuda:12.8.1-... -> CUDA_VERSION=12.8.1, like the real image
  if [[ $name =~ cuda:([0-9]+\.[0-9]+(\.[0-9]+)?) ]]; then
    changes+=("ENV CUDA_VERSION=${BASH_REMATCH[1]}")
  fi
  changes+=('CMD ["/bin/bash"]' "LABEL kiln.stub-world=1")
  hash=$(printf '%s\n' "$rootfs_hash" "${changes[@]}" | sha256sum | cut -c1-64)
  have=$(docker image inspect -f '{{index .Config.Labels "kiln.stub-world.hash"}}' "$name" 2>/dev/null || true)
  if [[ $have == "$hash" && ${KILN_STUB_FORCE:-0} != 1 ]]; then
    log "$name is up to date (${hash:0:12})"
    continue
  fi
  args=()
  for c in "${changes[@]}" "LABEL kiln.stub-world.hash=$hash"; do args+=(--change "$c"); done
  docker import "${args[@]}" "$work/rootfs.tar" "$name" >/dev/null
  log "imported $name (${hash:0:12})"
done
