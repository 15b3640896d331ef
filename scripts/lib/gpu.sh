# shellcheck shell=bash
# GPU check at start (nvidia-smi logged; the image's GPU profile against the
# GPU found) and COMFY_PERF_FLAGS. Sourced by start.sh.

GPU_SM="" # sm of the first GPU found (e.g. sm_120); empty when unknown

# ComfyUI performance flags COMFY_PERF_FLAGS may ask for:
#   name -> "flag  exclusive-group  minimum-sm  why"
# Flags and groups as in comfy/cli_args.py (argparse mutually exclusive groups
# cm_group, fpunet_group, fpvae_group, fpte_group, vram_group), read at
# comfyanonymous/ComfyUI 005d79c; at run time each flag is also looked up in
# the image's own comfy/cli_args.py, so a ComfyUI without it never sees it.
declare -A PERF_FLAGS=(
  [cuda-malloc]="--cuda-malloc cuda-malloc 0 cudaMallocAsync allocator"
  [bf16-unet]="--bf16-unet unet 80 bf16 diffusion model; bf16 needs Ampere (sm_80) or newer"
  [bf16-vae]="--bf16-vae vae 80 bf16 VAE; needs sm_80 or newer"
  [bf16-text-enc]="--bf16-text-enc text-enc 80 bf16 text encoders; needs sm_80 or newer"
  [fast]="--fast fast 0 every --fast optimisation (ComfyUI enables only what the GPU supports)"
  [highvram]="--highvram vram 0 keep models in VRAM between runs"
  [gpu-only]="--gpu-only vram 0 everything on the GPU, text encoders included"
)
# Every flag of each group: a flag is skipped when COMFY_ARGS already has one
# of its group (argparse would reject both and ComfyUI would not start).
declare -A PERF_GROUPS=(
  [cuda-malloc]="--cuda-malloc --disable-cuda-malloc"
  [unet]="--fp32-unet --fp64-unet --bf16-unet --fp16-unet --fp8_e4m3fn-unet --fp8_e5m2-unet --fp8_e8m0fnu-unet"
  [vae]="--fp16-vae --fp32-vae --bf16-vae"
  [text-enc]="--fp8_e4m3fn-text-enc --fp8_e5m2-text-enc --fp16-text-enc --fp32-text-enc --bf16-text-enc"
  [vram]="--gpu-only --highvram --normalvram --lowvram --novram --cpu"
  [fast]="--fast"
)

gpu_kernels() { # what in this image is compiled for one GPU arch
  local k=()
  case ${KILN_ATTENTION,,} in sage) k+=(SageAttention) ;; flash) k+=(FlashAttention) ;; esac
  [[ -x $LLAMA_SERVER_BIN ]] && k+=(llama-server)
  printf '%s' "${k[*]}"
}

gpu_check() {
  local smi=$KILN_NVIDIA_SMI out line idx name cap drv mem sm gpus="" sep="" mismatch=false kernels
  if ! have "$smi"; then
    log "GPU: $smi not found (no NVIDIA driver in this container?); GPU check skipped"
    put "$KILN_RUN_DIR/gpu.json" "{\"checked\": false, \"image_gpu\": $(json_str "$KILN_GPU"), \"image_sm\": $(json_str "$KILN_SM"), \"gpus\": []}"
    return 0
  fi
  if out=$(timeout 30 "$smi" 2>&1); then
    while IFS= read -r line; do log "  nvidia-smi | $line"; done <<<"$out"
  else
    warn "GPU: $smi failed: ${out//$'\n'/ | }"
  fi
  out=$(timeout 30 "$smi" --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1) ||
    warn "GPU: cannot query the compute capability (${out//$'\n'/ }); is the driver older than 510?"
  kernels=$(gpu_kernels)
  while IFS=, read -r idx name cap drv mem; do
    idx=${idx// /} cap=${cap// /}
    [[ $idx =~ ^[0-9]+$ && $cap =~ ^[0-9]+\.[0-9]+$ ]] || continue
    name=${name# } drv=${drv# } mem=${mem# }
    sm="sm_${cap/./}"
    [[ -n $GPU_SM ]] || GPU_SM=$sm
    log "GPU $idx: $name, $sm, driver $drv, $mem"
    if [[ -n $KILN_SM && $sm != "$KILN_SM" ]]; then
      mismatch=true
      if [[ -n $kernels ]]; then
        warn "GPU MISMATCH: this image is built for ${KILN_GPU:-?} ($KILN_SM) but GPU $idx is $name ($sm). Its compiled kernels ($kernels) target $KILN_SM and may not load on $sm; use the image built for this GPU"
      else
        warn "GPU MISMATCH: this image is built for ${KILN_GPU:-?} ($KILN_SM) but GPU $idx is $name ($sm). It has no GPU-specific kernels and should run, but the image built for this GPU is the one that was tested"
      fi
    fi
    gpus+="$sep{\"index\": $idx, \"name\": $(json_str "$name"), \"sm\": \"$sm\", \"driver\": $(json_str "$drv"), \"memory\": $(json_str "$mem")}"
    sep=", "
  done <<<"$out"
  if [[ -z $GPU_SM ]]; then
    warn "GPU: nvidia-smi reported no GPU"
  elif [[ $mismatch == false && -n $KILN_SM ]]; then
    log "GPU: matches the image's profile ${KILN_GPU:-?} ($KILN_SM)"
  fi
  put "$KILN_RUN_DIR/gpu.json" "{\"checked\": true, \"image_gpu\": $(json_str "$KILN_GPU"), \"image_sm\": $(json_str "$KILN_SM"), \"match\": $([[ $mismatch == true || -z $GPU_SM ]] && echo false || echo true), \"gpus\": [$gpus]}"
}

# COMFY_PERF_FLAGS -> flags appended to COMFY_CMD (names from PERF_FLAGS).
perf_flags() {
  [[ -n ${COMFY_PERF_FLAGS// /} ]] || return 0
  local cli="$COMFYUI_DIR/comfy/cli_args.py" name flag group min _ f sm=${GPU_SM:-$KILN_SM} taken
  local -a chosen=()
  for name in ${COMFY_PERF_FLAGS//,/ }; do
    if [[ -z ${PERF_FLAGS[$name]:-} ]]; then
      warn "COMFY_PERF_FLAGS: unknown '$name'; known: $(printf '%s ' "${!PERF_FLAGS[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')"
      continue
    fi
    read -r flag group min _ <<<"${PERF_FLAGS[$name]}"
    if ! grep -qF -- "\"$flag\"" "$cli" 2>/dev/null; then
      warn "COMFY_PERF_FLAGS: this ComfyUI has no $flag ($cli); $name skipped"
      continue
    fi
    taken=""
    for f in ${PERF_GROUPS[$group]}; do
      if [[ " $COMFY_ARGS ${chosen[*]} " == *" $f "* ]]; then taken=$f; fi
    done
    if [[ -n $taken ]]; then
      warn "COMFY_PERF_FLAGS: $name skipped: $taken is already set and ComfyUI accepts only one of ${PERF_GROUPS[$group]}"
      continue
    fi
    if ((min > 0)) && [[ $sm =~ ^sm_([0-9]+)$ ]] && ((BASH_REMATCH[1] < min)); then
      warn "COMFY_PERF_FLAGS: $name skipped: it needs sm_$min or newer and this GPU is $sm"
      continue
    fi
    chosen+=("$flag")
  done
  ((${#chosen[@]} == 0)) && return 0
  COMFY_CMD+=("${chosen[@]}")
  log "ComfyUI performance flags (COMFY_PERF_FLAGS): ${chosen[*]}"
}
