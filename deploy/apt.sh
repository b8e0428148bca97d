# Sourced by ./dev and deploy/install.sh: install Debian packages as root or through sudo, and
# wait (bounded) for another apt/dpkg to finish instead of failing on its lock.
#   apt_install PKG...     update the package lists once per run, then install PKG...
#   apt_wait_for_locks     wait until no process holds an apt/dpkg lock (APT_LOCK_TIMEOUT s)
# Messages start with $APT_TAG ("dev" or "install"); apt's own output goes to a log that is
# printed only when apt fails.

APT_TAG=${APT_TAG:-dev}
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-300}
# The locks apt and dpkg take (fcntl locks, listed in /proc/locks). Overridable for the tests.
APT_LOCK_FILES=${APT_LOCK_FILES:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}
_apt_updated=""

_apt_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "$APT_TAG: installing Debian packages needs root: run this as root or install sudo" >&2
    return 1
  fi
}

# Prints "FILE PID" for the first lock file some process holds, nothing if all are free. Reads
# /proc/locks (device major:minor:inode, in hex:hex:decimal) so that it needs neither root nor
# tools outside a minimal Debian (no fuser, no lsof, no python yet).
_apt_lock_holder() {
  [ -r /proc/locks ] || return 0
  local file dev ino id
  for file in $APT_LOCK_FILES; do
    [ -e "$file" ] || continue
    dev=$((16#$(stat -c %D "$file"))) ino=$(stat -c %i "$file")
    id=$(printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$ino")
    # Fields: "N: POSIX ADVISORY WRITE PID ID START END"; waiters are marked "->" and skipped.
    awk -v id="$id" -v file="$file" '$2 != "->" && $6 == id { print file, $5; exit }' /proc/locks \
      | grep . && return 0
  done
  return 0
}

apt_wait_for_locks() {
  local holder waited=0 said=""
  while holder=$(_apt_lock_holder) && [ -n "$holder" ]; do
    if [ -z "$said" ]; then
      local pid=${holder#* } name=""
      [ -r "/proc/$pid/comm" ] && name=" ($(cat "/proc/$pid/comm"))"
      echo "$APT_TAG: waiting for ${holder%% *}, held by process $pid$name (another apt or dpkg; up to ${APT_LOCK_TIMEOUT} s)" >&2
      said=1
    fi
    if [ "$waited" -ge "$APT_LOCK_TIMEOUT" ]; then
      echo "$APT_TAG: gave up after ${APT_LOCK_TIMEOUT} s: ${holder%% *} is still held; run again when that apt/dpkg has finished" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  [ -z "$said" ] || echo "$APT_TAG: the lock is free after ${waited} s" >&2
  return 0
}

# Runs "$@" as root with its output in a log, printed only if it fails.
_apt_quiet() {
  local log rc=0
  log=$(mktemp)
  _apt_as_root "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$log" >&2
    echo "$APT_TAG: '$*' failed (output above)" >&2
  fi
  rm -f "$log"
  return "$rc"
}

apt_install() {
  [ $# -gt 0 ] || return 0
  echo "$APT_TAG: installing Debian packages: $*" >&2
  # Ask for sudo's password (if it wants one) now, before apt's output goes to a log.
  if [ "$(id -u)" -ne 0 ]; then
    _apt_as_root true || return 1
  fi
  # A lock taken between the wait and apt's own attempt is still waited for by apt itself for
  # dpkg's locks (DPkg::Lock::Timeout); the lists lock of `update` is covered by the wait alone.
  local opts=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT" -o Dpkg::Use-Pty=0 -q -y)
  if [ -z "$_apt_updated" ]; then
    apt_wait_for_locks || return 1
    _apt_quiet apt-get "${opts[@]}" update || return 1
    _apt_updated=1
  fi
  apt_wait_for_locks || return 1
  _apt_quiet env DEBIAN_FRONTEND=noninteractive \
    apt-get "${opts[@]}" install --no-install-recommends "$@"
}
