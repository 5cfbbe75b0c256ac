#!/usr/bin/env bash
# Renders the hicolor PNGs from arxos.svg (needs rsvg-convert: apt-get install librsvg2-bin).
# Run after editing the SVG, and commit the PNGs.
set -euo pipefail
cd "$(dirname "$0")"
app_id=studio.arxos.Arxos
for n in 16 32 48 64 128 256 512; do
  mkdir -p "hicolor/${n}x${n}/apps"
  rsvg-convert --width "$n" --height "$n" --output "hicolor/${n}x${n}/apps/$app_id.png" arxos.svg
done
