"""Writing a benchmark's result file (shared by the scripts in benchmarks/, which have it on sys.path)."""
from __future__ import annotations

import json
from pathlib import Path


def write_json(path: Path | None, result: dict) -> dict:
    """Write ``result`` as indented JSON to ``path`` (its folder created; nothing when None); return it."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # whole or not at all: a benchmark stopped by a time limit while writing leaves the last full result
        partial = path.with_name(path.name + '.partial')
        partial.write_text(json.dumps(result, indent=2) + '\n')
        partial.replace(path)
    return result
