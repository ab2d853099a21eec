# Data roots registered by data_gen/0_prepare_data.py (docs/data.md). Sourced by run_all.sh (which sets ROOT).
# The registration file ($SYNVID_PATHS, default data/paths.env) holds VARIABLE=/absolute/path lines; it is parsed,
# never sourced, and a variable already set in the environment wins.

load_registered_paths() {  # export the registered *_ROOT, *_WEIGHTS and *_CKPT variables the environment lacks
  local file=${SYNVID_PATHS:-$ROOT/data/paths.env} line var used=()
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    var=${line%%=*}
    [[ "$line" == *=* && "$var" =~ ^[A-Z][A-Z0-9_]*_(ROOT|WEIGHTS|CKPT)$ ]] || continue
    [ -n "${!var:-}" ] && continue
    export "$var=${line#*=}"
    used+=("$var")
  done <"$file"
  if [ ${#used[@]} -gt 0 ]; then echo "run_all.sh: from $file: ${used[*]}" >&2; fi
  return 0
}
