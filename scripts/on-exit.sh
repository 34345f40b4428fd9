# Sourced by scripts/moto.sh and scripts/ctmock.sh: `on_exit CMD` runs CMD when this shell
# exits, before the EXIT trap already set, so every server started into one shell ends with
# it (a plain `trap CMD EXIT` would drop the one before).
on_exit() {
  local -a prev
  eval "prev=($(trap -p EXIT))" # trap -- 'CMD' EXIT, or nothing
  if [ "${#prev[@]}" -eq 4 ]; then
    trap -- "$1; ${prev[2]}" EXIT
  else
    trap -- "$1" EXIT
  fi
}
