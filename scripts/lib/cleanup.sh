# shellcheck shell=bash
# nuke and the PARANOID_MODE exit cleanup. WHAT they delete is data:
# cleanup.list beside this file; this file resolves its roots, refuses
# anything that would leave them, deletes, and records the result.
# Sourced by start.sh and comfyctl; the caller defines log, warn and err and
# sets DATA_DIR, COMFYUI_DIR, KILN_TMP_DIR, KILN_LOG_DIR, HOME (and USER_HOME
# when KILN_USER runs ComfyUI) and KILN_CLEANUP_RECORD.

CLEANUP_LIST="${BASH_SOURCE[0]%/*}/cleanup.list"
# Larger files are deleted without shredding: shred has to write every
# byte, and the exit must fit in the stop grace period.
SHRED_MAX_BYTES=$((64 * 1024 * 1024))

# Directories of a root, one per line.
cleanup_roots() {
  case $1 in
  DATA) printf '%s\n' "${DATA_DIR:-}" ;;
  COMFY) printf '%s\n' "${COMFYUI_DIR:-}" ;;
  TMP) printf '%s\n' "${KILN_TMP_DIR:-}" ;;
  LOGS) printf '%s\n' "${KILN_LOG_DIR:-}" ;;
  HOME)
    printf '%s\n' "${HOME:-}"
    if [[ -n ${USER_HOME:-} && $USER_HOME != "${HOME:-}" ]]; then printf '%s\n' "$USER_HOME"; fi
    ;;
  esac
}

# A root may be any existing directory but "/" and the system's own.
cleanup_root_ok() {
  case $1 in
  "" | / | /bin | /boot | /dev | /etc | /home | /lib | /lib32 | /lib64 | /opt | /proc | /run | /sbin | /srv | /sys | /usr | /usr/* | /var) return 1 ;;
  esac
  [[ -d $1 ]]
}

# Targets of the given sets, one "resolved-path<TAB>root/path" per line; only
# those that exist and stay inside their root (after resolving links).
cleanup_targets() {
  local -A want=()
  local s set root rel _ dir real target
  for s in "$@"; do want[$s]=1; done
  [[ -f $CLEANUP_LIST ]] || { err "cleanup: $CLEANUP_LIST is missing"; return 1; }
  while read -r set root rel _; do
    [[ -z $set || $set == \#* || -z ${want[$set]:-} ]] && continue
    if [[ $rel == /* || /$rel/ == */../* ]]; then
      warn "cleanup: ignoring '$root $rel' in $CLEANUP_LIST (paths stay inside their root)"
      continue
    fi
    while IFS= read -r dir; do
      [[ -n $dir ]] || continue
      real=$(realpath -e -- "$dir" 2>/dev/null) || continue
      cleanup_root_ok "$real" || { warn "cleanup: refusing root $root=$dir"; continue; }
      target="$real/$rel"
      [[ $rel == . ]] && target=$real
      [[ -e $target || -L $target ]] || continue
      # A link is deleted itself, never followed; anything else must resolve inside the root.
      if [[ ! -L $target ]]; then
        target=$(realpath -e -- "$target" 2>/dev/null) || continue
        [[ $target == "$real" || $target == "$real"/* ]] || { warn "cleanup: $root/$rel resolves outside $real; skipped"; continue; }
      fi
      printf '%s\t%s/%s\n' "$target" "$root" "$rel"
    done < <(cleanup_roots "$root")
  done <"$CLEANUP_LIST"
}

# Delete one target: a directory's contents (the directory stays), or the
# file / link itself. With "shred", regular files up to SHRED_MAX_BYTES are
# overwritten first. Never leaves the file system it starts on.
cleanup_delete() { # mode path -> number of entries removed on stdout
  local mode=$1 t=$2 n=0
  if [[ -d $t && ! -L $t ]]; then
    n=$(find "$t" -xdev -mindepth 1 2>/dev/null | wc -l)
    if [[ $mode == shred ]] && have shred; then
      find "$t" -xdev -mindepth 1 -type f -size -"$((SHRED_MAX_BYTES / 1024 + 1))"k \
        -exec shred -f -z -n 1 -u -- {} + 2>/dev/null
    fi
    find "$t" -xdev -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system -- {} + 2>/dev/null
  else
    n=1
    if [[ $mode == shred && -f $t && ! -L $t ]] && have shred && (($(stat -c %s -- "$t") <= SHRED_MAX_BYTES)); then
      shred -f -z -n 1 -u -- "$t" 2>/dev/null
    fi
    rm -f -- "$t" 2>/dev/null
  fi
  printf '%s' "$n"
}

# Run the given sets. mode: delete | shred. trigger: what asked for it (logged, recorded).
cleanup_run() { # mode trigger set...
  local mode=$1 trigger=$2 line target label n total=0 errors=0
  shift 2
  local -a done_labels=()
  while IFS= read -r line; do
    target=${line%%$'\t'*}
    label=${line#*$'\t'}
    n=$(cleanup_delete "$mode" "$target")
    total=$((total + n))
    if [[ -d $target && ! -L $target ]] && [[ -n $(find "$target" -xdev -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null) ]]; then
      errors=$((errors + 1))
      warn "cleanup: $target is not empty afterwards (another file system inside it, or no permission)"
    elif [[ ! -d $target ]] && [[ -e $target || -L $target ]]; then
      errors=$((errors + 1))
      warn "cleanup: could not delete $target"
    fi
    done_labels+=("$label")
  done < <(cleanup_targets "$@")
  local problems=""
  ((errors == 0)) || problems=", $errors problem(s)"
  log "cleanup ($*, $mode, by $trigger): ${#done_labels[@]} location(s), $total entries removed$problems"
  cleanup_record "$trigger" "$mode" "$total" "$errors" "$*" "${done_labels[@]}"
}

json_str() { # a JSON string literal
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# The last cleanup, for the status endpoint (no secrets: sets, labels, counts).
cleanup_record() { # trigger mode removed errors sets label...
  local f=${KILN_CLEANUP_RECORD:-} ts trigger=$1 mode=$2 removed=$3 errors=$4 sets=$5 l sep=""
  shift 5
  [[ -n $f ]] || return 0
  mkdir -p "${f%/*}" 2>/dev/null || return 0
  TZ=UTC printf -v ts '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  {
    printf '{"time": "%s", "trigger": %s, "mode": "%s", "sets": %s, "removed": %d, "problems": %d, "locations": [' \
      "$ts" "$(json_str "$trigger")" "$mode" "$(json_str "$sets")" "$removed" "$errors"
    for l in "$@"; do printf '%s%s' "$sep" "$(json_str "$l")"; sep=", "; done
    printf ']}\n'
  } >"$f.tmp" 2>/dev/null && mv -f "$f.tmp" "$f" && chmod 644 "$f" 2>/dev/null
  return 0
}
