#!/usr/bin/env bash
# Checks the relay packaging in packaging/relay/: verifies the systemd unit (systemd-analyze
# verify, plus the sandbox settings it must keep), starts the release relay with the example
# relay.conf and stops it with SIGTERM, checks that the config documents exactly the relay's
# flags, and lints the Containerfile (two stages, a non-root user, the relay's port) and runs
# its HEALTHCHECK probe against the running relay. Runs from any directory; CI runs it from
# .ci/run after packaging/check.sh.
#
# Builds target/release/arxos-relay first (`cargo build --release --locked -p arxos-relay --bin
# arxos-relay`; nothing to do when it is current: packaging/check.sh builds only `arxos`).
# Needs systemd-analyze (apt-get install systemd). Builds no image: it needs no container engine.
# Cargo's usual environment applies (CARGO_TARGET_DIR, CARGO_BUILD_JOBS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=packaging/relay
unit=$dir/arxos-relay.service
conf=$dir/relay.conf
containerfile=$dir/Containerfile
ignorefile=$dir/Containerfile.dockerignore

fail() { echo "packaging/check-relay.sh: FAILED: $*" >&2; exit 1; }
step() { echo "-- $*"; }
need() { command -v "$1" >/dev/null || fail "$1 is not installed (apt-get install $2)"; }
need systemd-analyze systemd
for f in "$unit" "$conf" "$containerfile" "$ignorefile"; do [ -s "$f" ] || fail "$f is missing"; done
# The relay reads these; the check must see the files' settings, not the caller's.
unset ARXOS_RELAY_LISTEN ARXOS_RELAY_DATA ARXOS_RELAY_PUBLIC_URL ARXOS_ADMIN_TOKEN RUST_LOG
export NO_COLOR=1
scratch=$(mktemp -d)
relay_pid=
cleanup() {
  if [ -n "$relay_pid" ] && kill -0 "$relay_pid" 2>/dev/null; then kill -KILL "$relay_pid"; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

step "release build of arxos-relay"
cargo build --release --locked -p arxos-relay --bin arxos-relay
target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
  | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
bin=$target_dir/release/arxos-relay
[ -x "$bin" ] || fail "$bin was not built"
"$bin" --version
help=$("$bin" --help)
# Long help: the flag on one line, its description (with the default) on the next.
default_listen=$(awk '/^ +--listen </ {getline; if (match($0, /\[default: [^]]*\]/)) print substr($0, RSTART + 10, RLENGTH - 11)}' <<<"$help")
[ -n "$default_listen" ] || fail "arxos-relay --help shows no default for --listen"
port=${default_listen##*:}
echo "default address $default_listen (port $port)"

step "systemd unit: $unit"
# verify wants ExecStart's binary to exist: check a copy that runs the one just built.
grep -qx 'ExecStart=/usr/bin/arxos-relay --config /etc/arxos-relay/relay.conf --data /var/lib/arxos-relay' "$unit" \
  || fail "$unit: ExecStart is not '/usr/bin/arxos-relay --config /etc/arxos-relay/relay.conf --data /var/lib/arxos-relay'"
mkdir -p "$scratch/unit"
sed "s#^ExecStart=/usr/bin/arxos-relay #ExecStart=$bin #" "$unit" >"$scratch/unit/arxos-relay.service"
# Exits non-zero on errors; warnings (unknown keys, bad values) are only printed, so any line
# naming the unit fails too. Lines about other units (the host's) are shown, not judged.
out=$(systemd-analyze verify "$scratch/unit/arxos-relay.service" 2>&1) || fail "systemd-analyze verify: $out"
if grep -q 'arxos-relay' <<<"$out"; then fail "systemd-analyze verify: $out"; fi
if [ -n "$out" ]; then echo "$out"; fi
echo "systemd-analyze verify: OK"
required=(
  DynamicUser=yes StateDirectory=arxos-relay NoNewPrivileges=yes ProtectSystem=strict
  ProtectHome=yes PrivateTmp=yes PrivateDevices=yes
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' Restart=on-failure KillSignal=SIGTERM
  ProtectKernelTunables=yes ProtectControlGroups=yes RestrictNamespaces=yes LockPersonality=yes
  MemoryDenyWriteExecute=yes SystemCallFilter=@system-service CapabilityBoundingSet=
)
for line in "${required[@]}"; do
  grep -qxF "$line" "$unit" || fail "$unit: no line '$line'"
done
grep -qE '^TimeoutStopSec=[0-9]+' "$unit" || fail "$unit: no TimeoutStopSec="
echo "all ${#required[@]} sandbox and lifecycle settings present"
# The exposure score (0 to 10, lower is better); the unit must stay at 2.0 or below.
# `--threshold=20` makes systemd-analyze exit non-zero above 2.0; systemd < 250 has no --offline.
if out=$(systemd-analyze security --offline=yes --threshold=20 --no-pager \
    "$scratch/unit/arxos-relay.service" 2>&1); then
  grep 'Overall exposure level' <<<"$out"
elif grep -q 'Overall exposure level' <<<"$out"; then
  fail "systemd-analyze security: exposure above 2.0: $out"
else
  echo "systemd-analyze security --offline is not available here: skipped ($out)"
fi

step "example config: $conf"
# Keys: every active `key = value` line and every commented example `#key = ...`.
keys=$(sed -nE 's/^#?([a-z][a-z_]*) *=.*/\1/p' "$conf" | tr _ - | sort -u)
flags=$(grep -oE '^ +--[a-z][a-z-]*' <<<"$help" | tr -d ' ' | sed 's/^--//' | sort -u)
for key in $keys; do
  grep -qx "$key" <<<"$flags" || fail "$conf: '$key' is not a flag of arxos-relay (see arxos-relay --help)"
done
for flag in $flags; do
  case $flag in config | help | version) continue ;; esac
  grep -qx "$flag" <<<"$keys" || fail "$conf does not document --$flag"
done
echo "documents exactly the relay's $(wc -w <<<"$keys") settings"
# Inline `#` is not a comment for the relay's parser: a value must not contain one.
if grep -nE '^[^#].*=.*#' "$conf"; then fail "$conf: a '#' after a value would be part of the value"; fi

step "relay starts with $conf and stops on SIGTERM"
"$bin" --config "$conf" --data "$scratch/data" --listen 127.0.0.1:0 \
  >"$scratch/stdout" 2>"$scratch/stderr" &
relay_pid=$!
for _ in $(seq 100); do
  if grep -q '^listening on ' "$scratch/stdout"; then break; fi
  kill -0 "$relay_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^listening on ' "$scratch/stdout"; then
  fail "the relay did not print 'listening on' within 10 s: $(cat "$scratch/stdout" "$scratch/stderr")"
fi
url=$(sed -n 's/^listening on //p' "$scratch/stdout")
echo "listening on $url"
live_port=${url##*:}
live_port=${live_port%%/*}

# The Containerfile's HEALTHCHECK probe, as written, against this relay's port.
probe=$(sed -nE 's/^ +CMD \["bash", "-c", "(.*)"\]$/\1/p' "$containerfile" | sed 's/\\\\/\\/g')
[ -n "$probe" ] || fail "$containerfile: no HEALTHCHECK CMD [\"bash\", \"-c\", \"...\"]"
grep -q "/dev/tcp/127.0.0.1/$port " <<<"$probe" || fail "$containerfile: the HEALTHCHECK does not probe port $port"
timeout 5 bash -c "${probe//\/dev\/tcp\/127.0.0.1\/$port /\/dev\/tcp\/127.0.0.1\/$live_port }" \
  || fail "the Containerfile's HEALTHCHECK probe fails against a running relay"
echo "HEALTHCHECK probe: healthy"

kill -TERM "$relay_pid"
for _ in $(seq 300); do
  kill -0 "$relay_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$relay_pid" 2>/dev/null; then fail "the relay did not exit within 30 s of SIGTERM"; fi
rc=0
wait "$relay_pid" || rc=$?
relay_pid=
[ "$rc" = 0 ] || fail "the relay exited with status $rc after SIGTERM: $(cat "$scratch/stderr")"
grep -q 'relay stopped' "$scratch/stderr" || fail "the relay did not log 'relay stopped': $(cat "$scratch/stderr")"
if grep -E '(^|[^A-Za-z])(WARN|ERROR)([^A-Za-z]|$)' "$scratch/stderr"; then fail "the relay logged warnings or errors (above)"; fi
for f in admin-token relay.lock rooms; do
  [ -e "$scratch/data/$f" ] || fail "the data folder has no $f (README.md lists it)"
done
echo "clean exit; data folder: $(ls "$scratch/data" | tr '\n' ' ')"

step "Containerfile: $containerfile"
froms=$(grep -cE '^FROM ' "$containerfile" || true)
[ "$froms" -ge 2 ] || fail "$containerfile: $froms FROM lines, expected a build and a runtime stage"
runtime=$(awk '/^FROM /{stage = ""} {stage = stage $0 "\n"} END {printf "%s", stage}' "$containerfile")
user=$(sed -nE 's/^USER[[:space:]]+([^[:space:]]+).*/\1/p' <<<"$runtime" | tail -n1)
[ -n "$user" ] || fail "$containerfile: the runtime stage has no USER line"
case ${user%%:*} in root | 0) fail "$containerfile: the runtime stage runs as $user" ;; esac
grep -qE '^COPY --from=' <<<"$runtime" || fail "$containerfile: the runtime stage copies nothing from the build stage"
grep -q 'cargo build --release --locked -p arxos-relay --bin arxos-relay' "$containerfile" \
  || fail "$containerfile: no 'cargo build --release --locked -p arxos-relay --bin arxos-relay'"
grep -qx 'VOLUME /data' <<<"$runtime" || fail "$containerfile: no VOLUME /data"
grep -qx "EXPOSE $port" <<<"$runtime" || fail "$containerfile: no EXPOSE $port"
grep -qxF "ENTRYPOINT [\"arxos-relay\", \"--data\", \"/data\", \"--listen\", \"0.0.0.0:$port\"]" <<<"$runtime" \
  || fail "$containerfile: ENTRYPOINT is not [\"arxos-relay\", \"--data\", \"/data\", \"--listen\", \"0.0.0.0:$port\"]"
grep -qx 'target' "$ignorefile" || fail "$ignorefile does not exclude target"
echo "$froms stages, runtime user $user, port $port"

echo "relay packaging OK"
