#!/usr/bin/env bash
# Regenerates the pictures under docs/img/ and their PNG screenshots (with Chromium, or
# rsvg-convert when no Chromium is installed). CI never runs this: the SVGs are checked by
# `cargo test` (tests/pictures.rs), and a renderer is only needed to look at them.
#
#   bash docs/screenshots.sh            # from the repository root
#   CHROMIUM=/path/to/chrome bash docs/screenshots.sh
#
# On Debian/Ubuntu: apt-get install -y chromium fonts-dejavu-core
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/readysim
out=docs/img
mkdir -p "$out"

"$bin" replay incident-2025-09-09 --svg "$out/incident-timeline.svg" >/dev/null || true
"$bin" replay claimed-race-grace --svg "$out/claimed-race-grace-timeline.svg" >/dev/null || true
"$bin" map claimed-race-grace --x redis.server.up_from_ms --y redis.manager.stabilize_ms \
    --preset p8 reference --svg "$out/claimed-race-grace-map.svg" >/dev/null

chrome="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$chrome" ]; then
    if command -v rsvg-convert >/dev/null; then
        # librsvg (apt-get install librsvg2-bin) renders the same pictures without a browser.
        for svg in "$out"/*.svg; do
            rsvg-convert "$svg" -o "${svg%.svg}.png"
            echo "rendered ${svg%.svg}.png with rsvg-convert"
        done
        exit 0
    fi
    echo "no Chromium or rsvg-convert found: SVGs written, screenshots skipped" >&2
    exit 0
fi
for svg in "$out"/*.svg; do
    # The window is the picture's own size, read from its root element.
    w=$(grep -o 'width="[0-9.]*"' "$svg" | head -1 | tr -dc '0-9.')
    h=$(grep -o 'height="[0-9.]*"' "$svg" | head -1 | tr -dc '0-9.')
    "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="${w%.*},${h%.*}" --screenshot="${svg%.svg}.png" "file://$PWD/$svg" \
        >/dev/null 2>&1
    echo "screenshot ${svg%.svg}.png (${w%.*}x${h%.*})"
done
