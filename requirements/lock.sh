#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml with uv (`pip install uv` anywhere, or set UV):
#   requirements/lock.sh                    keep every pinned version, add/remove what changed
#   requirements/lock.sh --upgrade          move everything to the newest allowed versions
#   requirements/lock.sh --upgrade-package bleak
# The locks are "universal": one file for every platform and Python >= 3.11 (x86_64 CI and
# aarch64 Pis alike), with environment markers where the resolution differs. runtime.lock covers
# the runtime package and its store extras; dev.lock adds the test tools on top of runtime.lock's
# versions, so the tests run exactly what the stores run. Run `./dev test` after regenerating.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
common=(--universal --python-version 3.11 --quiet
        --custom-compile-command "requirements/lock.sh")
"$UV" pip compile pyproject.toml "${common[@]}" "$@" \
  --extra demo --extra pyzbar --extra nfc --extra gpio -o requirements/runtime.lock
"$UV" pip compile pyproject.toml "${common[@]}" "$@" \
  --all-extras -c requirements/runtime.lock -o requirements/dev.lock
