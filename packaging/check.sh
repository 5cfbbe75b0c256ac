#!/usr/bin/env bash
# Checks the Linux packaging: validates the desktop entry, the AppStream metainfo, the MIME
# definition and the icons, then builds the release binary and the .deb (`cargo deb`), checks
# that `dpkg -c` lists everything the package must install, validates the unpacked tree and runs
# the packaged binary. Runs from any directory; CI runs it from .ci/run.
#
# Needs desktop-file-validate (desktop-file-utils), appstreamcli (appstream) and dpkg;
# update-mime-database (shared-mime-info) is used when present. Installs cargo-deb when missing.
# Cargo's usual environment applies (CARGO_TARGET_DIR, CARGO_BUILD_JOBS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=studio.arxos.Arxos
desktop=packaging/linux/$app_id.desktop
metainfo=packaging/linux/$app_id.metainfo.xml
mime=packaging/linux/mime/arxos.xml
svg=packaging/icons/arxos.svg
sizes=(16 32 48 64 128 256 512)
cargo_deb_version=3.8.0

fail() { echo "packaging/check.sh: FAILED: $*" >&2; exit 1; }
step() { echo "-- $*"; }
need() { command -v "$1" >/dev/null || fail "$1 is not installed (apt-get install $2)"; }
need desktop-file-validate desktop-file-utils
need appstreamcli appstream
need dpkg-deb dpkg
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

step "desktop entry: $desktop"
# Exits non-zero on errors only; warnings fail here too (hints are fine).
out=$(desktop-file-validate "$desktop" 2>&1) || fail "desktop-file-validate: $out"
if grep -qE '(error|warning):' <<<"$out"; then fail "desktop-file-validate: $out"; fi
if [ -n "$out" ]; then echo "$out"; fi
grep -qx "Icon=$app_id" "$desktop" || fail "$desktop: Icon= is not $app_id"
grep -qx "Exec=arxos %f" "$desktop" || fail "$desktop: Exec= is not 'arxos %f'"

step "AppStream metainfo: $metainfo"
# Exits non-zero on errors and warnings; info and pedantic hints are fine.
out=$(appstreamcli validate --no-net --no-color "$metainfo" 2>&1) || fail "appstreamcli validate: $out"
if grep -qE '^[EW]:' <<<"$out"; then fail "appstreamcli validate: $out"; fi
echo "$out"
grep -q "<id>$app_id</id>" "$metainfo" || fail "$metainfo: <id> is not $app_id"
grep -q "<launchable type=\"desktop-id\">$app_id.desktop</launchable>" "$metainfo" \
  || fail "$metainfo: <launchable> does not name $app_id.desktop"

step "MIME definition: $mime"
if command -v update-mime-database >/dev/null; then
  mkdir -p "$scratch/mime/packages"
  cp "$mime" "$scratch/mime/packages/"
  # Prints its parse errors (and still exits 0), so any output is a failure.
  out=$(XDG_DATA_HOME=$scratch update-mime-database "$scratch/mime" 2>&1) || fail "update-mime-database: $out"
  [ -z "$out" ] || fail "update-mime-database: $out"
  grep -q '^application/x-arxos-plan:\*\.arx$' "$scratch/mime/globs" \
    || fail "$mime: no *.arx glob for application/x-arxos-plan"
  echo "*.arx -> application/x-arxos-plan"
else
  echo "update-mime-database not found (apt-get install shared-mime-info): skipped"
fi

step "icons"
[ -s "$svg" ] || fail "$svg is missing"
for n in "${sizes[@]}"; do
  png=packaging/icons/hicolor/${n}x${n}/apps/$app_id.png
  [ -s "$png" ] || fail "$png is missing (run packaging/icons/render.sh)"
  # The PNG header holds the width and height as big-endian 32-bit numbers at bytes 16..23.
  read -r w h < <(od -An -tu4 --endian=big -j16 -N8 "$png")
  if [ "$w" != "$n" ] || [ "$h" != "$n" ]; then fail "$png is ${w}x${h}, not ${n}x${n}"; fi
done
echo "$svg and ${#sizes[@]} PNG sizes (${sizes[*]})"

step "release build"
cargo build --release --bin arxos --locked

step "cargo deb"
if ! cargo deb --version >/dev/null 2>&1; then
  echo "cargo-deb not found: cargo install cargo-deb --locked --version $cargo_deb_version"
  cargo install cargo-deb --locked --version "$cargo_deb_version"
fi
target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
  | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
rm -f "$target_dir"/debian/arxos_*.deb "$target_dir"/debian/arxos-dbgsym_*.ddeb
# --fast: lighter compression (xz of the debug symbols dominates the time); this checks the
# package, it does not publish it. cargo deb prints the paths it wrote, one a line.
written=$(cargo deb --no-build --locked -p arxos --fast --output "$target_dir/debian/")
echo "$written"
deb=$(grep '\.deb$' <<<"$written" | head -n1) || true
if [ -z "$deb" ] || [ ! -s "$deb" ]; then fail "cargo deb did not write a .deb (it printed: $written)"; fi

step "package contents: $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends Section Installed-Size
listing=$(dpkg -c "$deb")
expected=(
  ./usr/bin/arxos
  "./usr/share/applications/$app_id.desktop"
  "./usr/share/metainfo/$app_id.metainfo.xml"
  "./usr/share/mime/packages/$app_id.xml"
  "./usr/share/icons/hicolor/scalable/apps/$app_id.svg"
)
for n in "${sizes[@]}"; do
  expected+=("./usr/share/icons/hicolor/${n}x${n}/apps/$app_id.png")
done
missing=()
for path in "${expected[@]}"; do
  # `dpkg -c` prints tar's long listing; the path is the last field.
  awk -v p="$path" '$NF == p { found = 1 } END { exit !found }' <<<"$listing" || missing+=("$path")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "$listing" >&2
  fail "the package does not install: ${missing[*]}"
fi
grep -E ' \./usr/bin/arxos$' <<<"$listing" | grep -q '^-rwxr-xr-x' \
  || fail "./usr/bin/arxos is not installed as an executable (mode 755)"
echo "all ${#expected[@]} expected files present"

step "unpacked package"
dpkg-deb -x "$deb" "$scratch/root"
# The metainfo as installed, next to the desktop entry it launches.
out=$(appstreamcli validate-tree --no-net --no-color "$scratch/root" 2>&1) \
  || fail "appstreamcli validate-tree: $out"
if grep -qE '^ *[EW]:' <<<"$out"; then fail "appstreamcli validate-tree: $out"; fi
echo "appstreamcli validate-tree: OK"
"$scratch/root/usr/bin/arxos" --version || fail "the packaged usr/bin/arxos does not run"

echo "packaging OK: $deb"
