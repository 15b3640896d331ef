# shellcheck shell=bash
# PRIVACY_MODE: telemetry hosts (telemetry-hosts.txt beside this file) go to
# /etc/hosts before any download, telemetry switches go into every child's
# environment, and connections leaving the pod are logged every
# PRIVACY_LOG_INTERVAL seconds (netlog.py, from /proc/net/tcp*). Never fatal.
# Sourced by start.sh.

TELEMETRY_HOSTS="${BASH_SOURCE[0]%/*}/telemetry-hosts.txt"
HOSTS_BEGIN="# BEGIN kiln PRIVACY_MODE (scripts/lib/telemetry-hosts.txt; written by start.sh)"
HOSTS_END="# END kiln PRIVACY_MODE"

privacy_setup() {
  is_true "$PRIVACY_MODE" || return 0
  # Documented opt-outs: huggingface_hub (huggingface.co itself must stay
  # reachable), Gradio, and the DO_NOT_TRACK convention (consoledonottrack.com).
  export HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 GRADIO_ANALYTICS_ENABLED=False
  if [[ ! $PRIVACY_LOG_INTERVAL =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $PRIVACY_LOG_INTERVAL =~ ^0*([.]0*)?$ ]]; then
    warn "PRIVACY_LOG_INTERVAL=$PRIVACY_LOG_INTERVAL is not a positive number of seconds; using 120"
    PRIVACY_LOG_INTERVAL=120
  fi
  local kind host _ block="" written=false note
  local -a hosts=()
  local -A keep=()
  while read -r kind host _; do
    [[ $kind == keep && -n $host ]] && keep[${host,,}]=1
  done <"$TELEMETRY_HOSTS"
  while read -r kind host _; do
    [[ $kind == block && -n $host ]] || continue
    if [[ -n ${keep[${host,,}]:-} ]]; then
      err "PRIVACY_MODE: $host is both blocked and needed in $TELEMETRY_HOSTS; not blocked"
      continue
    fi
    hosts+=("$host")
    block+="0.0.0.0 $host"$'\n'":: $host"$'\n'
  done <"$TELEMETRY_HOSTS"
  block="$HOSTS_BEGIN"$'\n'"$block$HOSTS_END"
  if [[ -f $KILN_HOSTS_FILE ]] && grep -qxF "$HOSTS_BEGIN" "$KILN_HOSTS_FILE" 2>/dev/null; then
    # Same container, second start: replace our block (the rest stays as it is).
    local rest="" line skip=0
    while IFS= read -r line || [[ -n $line ]]; do
      if [[ $line == "$HOSTS_BEGIN" ]]; then skip=1; continue; fi
      if ((skip)); then
        [[ $line == "$HOSTS_END" ]] && skip=0
        continue
      fi
      rest+="$line"$'\n'
    done <"$KILN_HOSTS_FILE"
    if { printf '%s%s\n' "$rest" "$block" >"$KILN_HOSTS_FILE"; } 2>/dev/null; then written=true; fi
  else
    # A last line without its newline would swallow our first one.
    if [[ -s $KILN_HOSTS_FILE && -n $(tail -c 1 "$KILN_HOSTS_FILE" 2>/dev/null) ]]; then block=$'\n'$block; fi
    if { printf '%s\n' "$block" >>"$KILN_HOSTS_FILE"; } 2>/dev/null; then
      # Appending never truncates: a failed write leaves the file as it was.
      written=true
    fi
  fi
  if [[ $written == true ]]; then
    note="blocked in $KILN_HOSTS_FILE"
    log "PRIVACY_MODE: ${#hosts[@]} telemetry hosts blocked in $KILN_HOSTS_FILE (0.0.0.0 and ::): ${hosts[*]}"
  else
    note="$KILN_HOSTS_FILE is read-only"
    warn "PRIVACY_MODE: cannot write $KILN_HOSTS_FILE (read-only here); telemetry hosts are NOT blocked. The telemetry opt-out variables and the connection log still apply"
  fi
  put "$KILN_RUN_DIR/privacy.json" "{\"hosts_file\": $(json_str "$KILN_HOSTS_FILE"), \"blocked\": $written, \"hosts\": ${#hosts[@]}, \"note\": $(json_str "$note"), \"log_interval_s\": $PRIVACY_LOG_INTERVAL}"
}

start_netlog() {
  is_true "$PRIVACY_MODE" || return 0
  [[ -n $SYS_PYTHON ]] || { warn "PRIVACY_MODE: no python3; no connection log"; return 0; }
  spawn netlog "$KILN_LOG_DIR/netlog.err" without_secrets detach "$SYS_PYTHON" "$SCRIPT_DIR/lib/netlog.py" \
    --interval "$PRIVACY_LOG_INTERVAL" --out "$KILN_LOG_DIR/connections.log"
  service_record netlog "$LAST_PID" ""
  log "PRIVACY_MODE: outbound connections logged every ${PRIVACY_LOG_INTERVAL}s to $KILN_LOG_DIR/connections.log"
}
