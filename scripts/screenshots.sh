#!/usr/bin/env bash
# Takes the README's screenshots of the real app in a virtual X display.
# Needs: xvfb, imagemagick, mesa-vulkan-drivers (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$HOME/.cache/journeyscope/target}"
bin="$target/release/journeyscope"
out=docs/screenshots
mkdir -p "$out"
cargo build --release
display=:57
Xvfb "$display" -screen 0 1400x860x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1

shot() { # name, seconds to wait, command...
  local name=$1 wait=$2
  shift 2
  DISPLAY=$display "$@" >/dev/null 2>&1 &
  local app=$!
  sleep "$wait"
  DISPLAY=$display import -window root "$out/$name.png"
  kill "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
}

shot start 4 "$bin"
shot journey-map 8 "$bin" demo
echo "screenshots in $out"
