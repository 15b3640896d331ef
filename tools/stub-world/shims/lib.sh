# shellcheck shell=bash
# /usr/lib/kiln-shim/lib.sh: sourced by every stub-world shim.
#
# Log format (one line per shim invocation, appended to /var/log/kiln/shims.log):
#   TOOL <TAB> CWD <TAB> ENV <TAB> ARG1 <TAB> ARG2 ...
# CWD and every ARG are `printf %q`-quoted (so they never contain a raw tab or
# newline); ENV is a space-separated list of K=V with V `printf %q`-quoted,
# holding only the variables below that are SET (an empty value logs as K='').
# See tools/stub-world/README.md.

KILN_SHIM_LOG=/var/log/kiln/shims.log
# shellcheck disable=SC2034 # used by the shims that source this file
KILN_SHIM_PY=python3.12
# Build-relevant variables, in this (sorted) order.
KILN_SHIM_ENV_VARS=(CMAKE_ARGS CMAKE_CUDA_ARCHITECTURES CUDA_ARCHS EXT_PARALLEL
  FLASH_ATTENTION_FORCE_BUILD FLASH_ATTN_CUDA_ARCHS MAX_JOBS NVCC_APPEND_FLAGS
  NVCC_THREADS PIP_CONSTRAINT PIP_EXTRA_INDEX_URL PIP_INDEX_URL TORCH_CUDA_ARCH_LIST)

# shim_env: the ENV field. Secrets (HF_TOKEN, CIVITAI_TOKEN and any variable
# whose name contains TOKEN, SECRET, PASSWORD or API_KEY) are logged WITH their
# values, after the build variables, so tests can prove they never reach a build.
shim_env() {
  local out=() k
  for k in "${KILN_SHIM_ENV_VARS[@]}"; do
    if [[ -v $k ]]; then out+=("$k=$(printf '%q' "${!k}")"); fi
  done
  while IFS= read -r k; do
    case $k in
      *TOKEN* | *SECRET* | *PASSWORD* | *API_KEY*) out+=("$k=$(printf '%q' "${!k}")") ;;
    esac
  done < <(compgen -e)
  local IFS=' '
  printf '%s' "${out[*]}"
}

# shim_log TOOL ARGS...: append one line to the shim log.
shim_log() {
  local tool=$1 line a
  shift
  line="$tool"$'\t'"$(printf '%q' "$PWD")"$'\t'"$(shim_env)"
  for a in "$@"; do line+=$'\t'"$(printf '%q' "$a")"; done
  mkdir -p "${KILN_SHIM_LOG%/*}"
  printf '%s\n' "$line" >>"$KILN_SHIM_LOG"
}

# shim_dist_name URL_OR_DIR: the Python distribution name a source tree builds.
shim_dist_name() {
  local repo=${1%/}
  repo=${repo##*/}
  repo=${repo%.git}
  repo=${repo,,}
  case $repo in
    sageattention) printf 'sageattention' ;;
    flash-attention | flash_attention | flash-attn | flash_attn) printf 'flash_attn' ;;
    *) printf '%s' "$repo" ;;
  esac
}

# shim_norm NAME: normalized distribution name (PEP 503, '_' separated), as
# used for site-packages marker dirs and wheel file names.
shim_norm() {
  local n=${1,,}
  n=${n//-/_}
  n=${n//./_}
  printf '%s' "$n"
}

# shim_download URL FILE: what a download leaves. A GitHub release archive
# (https://github.com/OWNER/REPO/releases/download/TAG/NAME.tar.gz or .tgz)
# becomes a real gzip tar holding one executable named REPO (a stub that
# prints its name and version), so `tar -xzf ARCHIVE REPO` works; a .whl URL
# upstream.json lists under prebuilt_wheels becomes that wheel (any other .whl
# fails like a 404); anything else becomes a one-line text file.
shim_download() {
  local url=$1 dest=$2 repo tag dir
  mkdir -p "$(dirname "$dest")"
  if [[ $url == *.whl ]]; then
    # A prebuilt kernel wheel: built from upstream.json prebuilt_wheels (a real zip with GPU code).
    (kiln_stub wheel-download "$url" "$dest")
  elif [[ $url =~ ^https://github\.com/[^/]+/([^/]+)/releases/download/([^/]+)/[^/]+\.(tar\.gz|tgz)$ ]]; then
    repo=${BASH_REMATCH[1]} tag=${BASH_REMATCH[2]}
    dir=$(mktemp -d)
    printf '#!/bin/sh\necho "%s %s (kiln stub)"\n' "$repo" "$tag" >"$dir/$repo"
    chmod 755 "$dir/$repo"
    tar -czf "$dest" -C "$dir" "$repo"
    rm -rf "$dir"
  else
    printf 'kiln stub download of %s\n' "$url" >"$dest"
  fi
}

# The real CPython of the stub world (Debian's, copied by build.sh). It runs
# through the loader with --library-path so its private libraries (libssl,
# libffi, ...) resolve for it alone and never for what it starts: unlike
# LD_LIBRARY_PATH, --library-path is not inherited (ld.so(8)).
KILN_PY_HOME=/usr/lib/kiln-shim/py
kiln_exec_python() {
  exec /lib64/ld-linux-x86-64.so.2 --library-path "$KILN_PY_HOME/lib" \
    --argv0 "$KILN_PY_HOME/bin/python3.11" "$KILN_PY_HOME/bin/python3.11" "$@"
}

# kiln_stub TOOL ARGS...: run the Python implementation of a shim
# (/usr/lib/kiln-shim/kilnstub; -I -S: isolated from the image's own Python
# setup, -B: no bytecode in image layers).
kiln_stub() {
  kiln_exec_python -I -S -B /usr/lib/kiln-shim/kilnstub/main.py "$@"
}
