#!/usr/bin/env bash
# Builds axle and runs the main job on examples/app: create a virtual
# environment, lock requirements.in with hashes, and sync the environment to
# the lock, against the index pip is configured for (PIP_INDEX_URL, pip.conf,
# or the default of the interpreter's own pip).
#
# The lock, requirements.txt, is committed beside requirements.in, as pip-tools
# users commit theirs: a checkout syncs exactly what was locked. It is one
# universal lock (every platform, Python 3.10 and later), so that it holds on
# whatever machine runs this; locking again keeps its pins while they still fit
# requirements.in, so the file changes only when requirements.in does. The
# index is not written into it (--no-emit-index-url, --no-emit-find-links): the
# reader's own pip configuration decides where files come from.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --bin axle --bin axled
axle="$root/target/release/axle"
cd examples/app
"$axle" venv --clear .venv
"$axle" lock --universal --python-version 3.10 --generate-hashes \
    --no-emit-index-url --no-emit-find-links requirements.in
"$axle" sync requirements.txt
.venv/bin/python -c "import fastapi, uvicorn; print('fastapi', fastapi.__version__, '/ uvicorn', uvicorn.__version__, 'installed')"
