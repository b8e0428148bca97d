#!/usr/bin/env bash
# Proves the README's demo command and the install guide on a fresh, minimal Debian 12:
#   sudo deploy/prove-fresh-debian.sh [TARGET]      (default TARGET: /tmp/retail-edge-fresh-debian)
# 1. debootstraps bookworm (variant minbase: no python3, no sudo, no git) into TARGET, from the
#    Debian mirror this machine's apt uses (or $MIRROR);
# 2. copies `git archive HEAD` of this repository to TARGET/root/retail-edge (commit first);
# 3. holds the chroot's dpkg lock for a few seconds, as an unattended upgrade would, and runs
#    `./dev demo` in the chroot until /healthz answers 200, then stops it (SIGINT);
# 4. runs deploy/install.sh in the chroot, then starts the agent with the unit's exact ExecStart=
#    (and its Environment=, WorkingDirectory=, LimitNOFILE= and groups) as the service user,
#    until /healthz answers 200, then stops it (SIGTERM, as systemd does). systemd cannot run as
#    PID 1 in a chroot: the unit's sandboxing and sd_notify are not exercised here
#    (tests/integration/test_deploy.py runs `systemd-analyze verify` on the unit);
# 5. prints timings and sizes. FULL_TEST=1 also runs `./dev test` in the chroot (chromium
#    alone is ~700 MB); without it, what `./dev test` would add is measured with apt-get -s.
# The chroot shares this machine's network; /proc and /dev/pts are mounted in it and unmounted on
# exit. TARGET is kept for inspection; a rerun replaces it.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${1:-/tmp/retail-edge-fresh-debian}
SUITE=${SUITE:-bookworm}
FULL_TEST=${FULL_TEST:-0}
LOCK_HOLD_S=${LOCK_HOLD_S:-8}
APT_TAG=prove
. "$SRC/deploy/apt.sh"

say() { echo "prove: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "run as root (debootstrap and chroot need it)"; exit 1; }
command -v curl >/dev/null || apt_install curl
command -v debootstrap >/dev/null || apt_install debootstrap

# The mirror this machine's apt already uses for Debian itself (deb822 or one-line sources).
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '/^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) found = 1 }
         /^$/ { if (found && uri) { print uri; exit } uri = ""; found = 0 }
         END { if (found && uri) print uri }' s="$SUITE" "$f" | head -n1 | grep . && return 0
  done
  awk -v s="$SUITE" '$1 == "deb" && $3 == s { print $2; exit }' /etc/apt/sources.list 2>/dev/null | grep .
}
MIRROR=${MIRROR:-$(mirror || true)}
[ -n "$MIRROR" ] || { say "no Debian $SUITE mirror found in /etc/apt/sources.list*: set MIRROR"; exit 1; }

mounted_under() { awk -v t="$TARGET" 'index($2, t "/") == 1 { print $2 }' /proc/mounts; }
if [ -e "$TARGET" ]; then
  [ -z "$(mounted_under)" ] || { say "something is mounted under $TARGET: unmount it first"; exit 1; }
  rm -rf "$TARGET"
fi

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for m in dev/pts proc; do
    mountpoint -q "$TARGET/$m" 2>/dev/null && umount "$TARGET/$m"
  done
  return 0
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s; }
mb() { du -sm "$1" | cut -f1; }
# Installed size (MB) of every Debian package in the chroot.
debian_mb() { chroot "$TARGET" dpkg-query -W -f '${Installed-Size}\n' | awk '{ s += $1 } END { printf "%d", s / 1024 }'; }
root_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
in_root() { chroot "$TARGET" /usr/bin/env -i "${root_env[@]}" "$@"; }

# Waits until GET URL answers 200 (or the process group PID is gone, or LIMIT seconds).
wait_healthy() {
  local url=$1 pid=$2 limit=$3 start
  start=$(now)
  while [ $(($(now) - start)) -lt "$limit" ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" = 200 ] && return 0
    kill -0 "$pid" 2>/dev/null || { say "the process exited before $url answered"; return 1; }
    sleep 1
  done
  say "$url did not answer 200 within $limit s"
  return 1
}
# Sends SIGNAL to the process group PID, waits (up to 30 s) for it to end; its exit status in $rc.
stop_group() {
  local pid=$1 signal=$2 i
  kill "-$signal" -- "-$pid" 2>/dev/null || true
  for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && { say "still running after 30 s: killing"; kill -KILL -- "-$pid"; }
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
}

# 1. A minimal Debian.
say "debootstrap $SUITE (minbase) from $MIRROR into $TARGET"
t0=$(now)
debootstrap --variant=minbase "$SUITE" "$TARGET" "$MIRROR" >"$TARGET.debootstrap.log" 2>&1 \
  || { tail -n 30 "$TARGET.debootstrap.log" >&2; exit 1; }
t_debootstrap=$(($(now) - t0))
mount -t proc proc "$TARGET/proc"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$TARGET/dev/pts"
cp /etc/resolv.conf "$TARGET/etc/resolv.conf"
# No service may start inside the chroot (a Debian mosquitto would take this machine's 1883).
printf '#!/bin/sh\nexit 101\n' >"$TARGET/usr/sbin/policy-rc.d"
# A machine that reaches PyPI through a TLS-inspecting proxy trusts the proxy's CA through
# PIP_CERT (or pip's `cert` setting); pip in the chroot is given that bundle and nothing else
# (a store device with a direct connection needs none of this).
host_ca=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
if [ -n "$host_ca" ] && [ -r "$host_ca" ]; then
  cp "$host_ca" "$TARGET/root/host-ca.pem"
  root_env+=(PIP_CERT=/root/host-ca.pem)
  say "pip in the chroot trusts this machine's CA bundle ($host_ca)"
fi
chmod +x "$TARGET/usr/sbin/policy-rc.d"
base_mb=$(debian_mb)
for cmd in python3 sudo git; do
  in_root sh -c "command -v $cmd" >/dev/null && say "note: $cmd is already in the base system"
done

# 2. The repository, as a clone would have it (no .venv, no caches).
mkdir -p "$TARGET/root/retail-edge"
git -C "$SRC" archive --format=tar HEAD | tar -x -C "$TARGET/root/retail-edge"
say "copied $(git -C "$SRC" rev-parse --short HEAD) to /root/retail-edge"

# 3. ./dev demo, while another "apt" holds dpkg's lock for a while.
port=$(free_port)
python3 - "$TARGET/var/lib/dpkg/lock-frontend" "$LOCK_HOLD_S" <<'EOF' &
import fcntl, sys, time
with open(sys.argv[1], "w") as lock:
    fcntl.lockf(lock, fcntl.LOCK_EX)  # the kind of lock apt and dpkg take
    time.sleep(float(sys.argv[2]))
EOF
holder_pid=$!
pids+=("$holder_pid")
sleep 0.5
say "./dev demo --http-port $port (the dpkg lock is held for $LOCK_HOLD_S s first)"
t0=$(now)
setsid chroot "$TARGET" /usr/bin/env -i "${root_env[@]}" /bin/bash -c "cd /root/retail-edge && exec ./dev demo --http-port $port" \
  >"$TARGET.demo.log" 2>&1 &
demo_pid=$!
pids+=("$demo_pid")
if ! wait_healthy "http://127.0.0.1:$port/healthz" "$demo_pid" 1200; then
  tail -n 40 "$TARGET.demo.log" >&2; exit 1
fi
t_demo=$(($(now) - t0))
stop_group "$demo_pid" INT
demo_stop_rc=$rc
wait "$holder_pid" 2>/dev/null || true
say "demo answered /healthz 200 after $t_demo s; stopped (exit $demo_stop_rc). Its output up to the URLs:"
sed -n '1,/Press Ctrl+C/p' "$TARGET.demo.log" | sed 's/^/    /' >&2
demo_debian_mb=$(($(debian_mb) - base_mb))
demo_venv_mb=$(mb "$TARGET/root/retail-edge/.venv")

# What ./dev test would add: measured with `apt-get -s` unless FULL_TEST=1 runs it.
test_packages="chromium nats-server wrk libzbar0 libatomic1 systemd mosquitto-clients"
# shellcheck disable=SC2086
in_root apt-get -s -q install --no-install-recommends $test_packages >"$TARGET.test-sim.log" 2>&1
test_extra_mb=$(awk '/^Inst / { print $2 }' "$TARGET.test-sim.log" \
  | xargs chroot "$TARGET" apt-cache show --no-all-versions 2>/dev/null \
  | awk '/^Installed-Size:/ { s += $2 } END { printf "%d", s / 1024 }')
t_test=""
if [ "$FULL_TEST" = 1 ]; then
  say "./dev test in the chroot (FULL_TEST=1)"
  t0=$(now)
  in_root bash -c "cd /root/retail-edge && ./dev test -q" >"$TARGET.test.log" 2>&1 \
    && test_result="passed" || test_result="FAILED (see $TARGET.test.log)"
  t_test=$(($(now) - t0))
fi

# 4. The install guide: deploy/install.sh, then the unit's command line as the service user.
say "deploy/install.sh"
t0=$(now)
in_root bash -c "cd /root/retail-edge && ./deploy/install.sh" >"$TARGET.install.log" 2>&1 \
  || { cat "$TARGET.install.log" >&2; exit 1; }
t_install=$(($(now) - t0))
sed 's/^/    /' "$TARGET.install.log" >&2
port=$(free_port)
# The operator's edit: this machine's port 8080 may be taken, so the proof uses a free port.
sed -i "s/^port = 8080/port = $port/" "$TARGET/etc/retail-edge/agent.toml"

unit="$TARGET/root/retail-edge/deploy/retail-edge.service"
key() { sed -n "s/^$1=//p" "$unit"; }
exec_start=$(key ExecStart)
workdir=$(key WorkingDirectory)
nofile=$(key LimitNOFILE)
user=$(key User)
group=$(key Group)
env_args=$(key Environment | tr '\n' ' ')
groups=$(key SupplementaryGroups | tr ' ' ',')
no_new_privs=$([ "$(key NoNewPrivileges)" = yes ] && echo --no-new-privs || true)
say "as $user: $exec_start"
t0=$(now)
# What systemd would set up for this unit, short of its namespaces and filters: the user, group
# and supplementary groups, NoNewPrivileges, no capabilities, the environment it passes (HOME,
# USER, LOGNAME, SHELL from the user entry, then Environment=), the working directory and the
# open-files limit. setpriv execs (no PAM session, no forking), so the agent is the process
# that gets SIGTERM, as the unit's main process would.
setsid chroot "$TARGET" /bin/bash -c "ulimit -n $nofile && cd $workdir && exec setpriv \
  --reuid=$user --regid=$group --groups=$groups $no_new_privs --inh-caps=-all --bounding-set=-all -- \
  /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=$workdir USER=$user LOGNAME=$user \
  SHELL=/usr/sbin/nologin $env_args $exec_start" >"$TARGET.service.log" 2>&1 &
agent_pid=$!
pids+=("$agent_pid")
if ! wait_healthy "http://127.0.0.1:$port/healthz" "$agent_pid" 300; then
  cat "$TARGET.service.log" >&2; exit 1
fi
t_service=$(($(now) - t0))
health=$(curl -s "http://127.0.0.1:$port/healthz")
# Names as the chroot knows them (this machine's /etc/passwd and /etc/group differ).
name_of() { chroot "$TARGET" getent "$1" "$2" | cut -d: -f1; }
running_as="$(name_of passwd "$(stat -c %u "/proc/$agent_pid")"):$(name_of group "$(stat -c %g "/proc/$agent_pid")") +"
for gid in $(awk '/^Groups:/ { $1 = ""; print }' "/proc/$agent_pid/status"); do
  running_as+=" $(name_of group "$gid")"
done
nofile_seen=$(awk '/Max open files/ { print $4 }' "/proc/$agent_pid/limits")
cmdline_seen=$(tr '\0' ' ' <"/proc/$agent_pid/cmdline")
stop_group "$agent_pid" TERM
service_stop_rc=$rc
say "the agent answered /healthz 200 after $t_service s: $health; stopped by SIGTERM (exit $service_stop_rc)"
sed 's/^/    /' "$TARGET.service.log" >&2
opt_venv_mb=$(mb "$TARGET/opt/retail-edge/venv")
install_debian_mb=$(($(debian_mb) - base_mb - demo_debian_mb))

cat <<EOF

== prove-fresh-debian: Debian $SUITE minbase, $(uname -m), commit $(git -C "$SRC" rev-parse --short HEAD)
debootstrap                     ${t_debootstrap} s   base system ${base_mb} MB of Debian packages
./dev demo to /healthz 200      ${t_demo} s   (${LOCK_HOLD_S} s of it waiting for the dpkg lock); SIGINT: exit ${demo_stop_rc}
  Debian packages added         ${demo_debian_mb} MB (python3, python3.11-venv, mosquitto and what they pull)
  .venv                         ${demo_venv_mb} MB
./dev test would add            ${test_extra_mb} MB of Debian packages (apt-get -s: $test_packages)
EOF
[ -z "$t_test" ] || echo "./dev test                      ${t_test} s: $test_result"
cat <<EOF
deploy/install.sh               ${t_install} s   Debian packages added: ${install_debian_mb} MB (after the demo's)
  /opt/retail-edge/venv         ${opt_venv_mb} MB
unit's ExecStart to /healthz 200 ${t_service} s   stopped by SIGTERM: exit ${service_stop_rc}
  process                       ${cmdline_seen}
  user and groups               ${running_as}; open files limit ${nofile_seen}
EOF
