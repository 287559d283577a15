#!/usr/bin/env bash
# Run the pytest suite in .venv on every core (pytest-xdist; idle workers steal queued tests, so
# the few long end-to-end tests do not leave a core idle at the end); "no tests collected"
# (pytest exit 5) is a failure.
# DASPM_TEST_WORKERS=0 runs in one process (e.g. to debug with -x --pdb).
set -uo pipefail
cd "$(dirname "$0")/.."
WORKERS="${DASPM_TEST_WORKERS:-auto}"
PARALLEL=()
if [[ "$WORKERS" != 0 ]]; then
    PARALLEL=(-n "$WORKERS" --dist worksteal)
    # one thread per worker: the workers already use every core, more threads only contend
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "${PARALLEL[@]}" tests "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit $rc
