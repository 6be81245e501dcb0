# Sourced by setup.sh and build-kubernetes.sh: checks, before any work starts, that every command a script
# runs is there, and names the Debian package of each one missing, instead of failing minutes later with
# "command not found" deep in a build log.
#
# usage: require_tools WHO TOOL=PACKAGE...
#   TOOL is a command looked up on PATH, or an absolute path (a file or folder a package installs).
require_tools() {
  local who="$1"; shift
  local spec tool missing=() packages=()
  for spec in "$@"; do
    tool="${spec%%=*}"
    if [[ "$tool" == /* ]]; then [ -e "$tool" ] && continue
    else command -v "$tool" >/dev/null 2>&1 && continue
    fi
    missing+=("$tool (Debian package ${spec#*=})")
    packages+=("${spec#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local m
  for m in "${missing[@]}"; do echo "$who: missing tool: $m" >&2; done
  echo "$who: install with: apt-get install ${packages[*]}" >&2
  return 1
}
