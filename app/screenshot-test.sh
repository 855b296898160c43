#!/usr/bin/env bash
# Runs the desktop app for real, headless: a virtual X server (Xvfb), Vulkan on Mesa's
# lavapipe, samples/chelsea.png opened at start. The app saves a PNG of its own window
# once the image is classified and exits; this script then checks that the top class is a
# cat and that the screenshot shows a photo rather than a blank window.
#
# usage: app/screenshot-test.sh [OUTPUT.png]   (default: target/app-screenshot.png)
# env:   MOBILENET_WGPU_MODELS  model folder (default ../shared/models, from the repo root)
#        CARGO_TARGET_DIR       honoured, as by cargo
set -euo pipefail

cd "$(dirname "$0")/.."
output=${1:-target/app-screenshot.png}
# Width of the app's results panel (RESULTS_WIDTH in app/src/ui.rs): the photo is left of it.
results_width=380

# Runtime packages: the X server, the X11 libraries winit loads, Vulkan with lavapipe.
packages=(xvfb xauth libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0
  libvulkan1 mesa-vulkan-drivers python3)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

start=$(date +%s)
cargo build --release -p mobilenet-wgpu-app
echo "release build: $(($(date +%s) - start)) s"
binary=${CARGO_TARGET_DIR:-target}/release/mobilenet-wgpu-app

export WGPU_BACKEND=vulkan NODEVICE_SELECT=1 MOBILENET_WGPU_OFFLINE=1
export MOBILENET_WGPU_MODELS=${MOBILENET_WGPU_MODELS:-../shared/models}
mkdir -p "$(dirname "$output")"
rm -f "$output"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

start=$(date +%s)
status=0
timeout 600 xvfb-run -a -s "-screen 0 1280x800x24" \
  "$binary" --screenshot "$output" --exit-after-result samples/chelsea.png >"$log" 2>&1 || status=$?
cat "$log"
echo "app run: $(($(date +%s) - start)) s, exit status $status"
[[ $status -eq 0 ]] || { echo "FAIL: the app exited with status $status"; exit 1; }
[[ -s $output ]] || { echo "FAIL: no screenshot at $output"; exit 1; }

# The result line: "chelsea.png [model]: label p%, label p%, ..."; the first label is top-1.
top1=$(sed -n 's/^chelsea\.png \[[^]]*\]: \([^,]*\) [0-9.]*%.*/\1/p' "$log" | head -n 1)
case "$top1" in
  tabby | "tiger cat" | "Egyptian cat") echo "top-1: $top1" ;;
  *) echo "FAIL: top-1 class is '$top1', expected a cat"; exit 1 ;;
esac

python3 app/check_screenshot.py "$output" "$results_width"
echo "screenshot test passed: $output"
