#!/usr/bin/env bash
# Builds axle and runs the main job on examples/app: create a virtual
# environment, lock requirements.in with hashes, and sync the environment to
# the lock, against the index pip is configured for (PIP_INDEX_URL, pip.conf,
# or the default of the interpreter's own pip).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --bin axle --bin axled
axle="$root/target/release/axle"
cd examples/app
"$axle" venv --clear .venv
"$axle" lock --generate-hashes requirements.in
"$axle" sync requirements.txt
.venv/bin/python -c "import fastapi, uvicorn; print('fastapi', fastapi.__version__, '/ uvicorn', uvicorn.__version__, 'installed')"
