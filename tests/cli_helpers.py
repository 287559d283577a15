"""Calling DASPM's command-line ``main`` functions in the test process, as their scripts would.

A script wrapper (run_experiments.py, tools/*.py, test.sh) costs a new interpreter that imports
torch, mmseg and daspm again (seconds of CPU each); the suite runs each wrapper once as a
subprocess and every other command in-process through :func:`call_cli`.
"""
from __future__ import annotations

import io
import logging
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class CliResult:
    """What a command did: exit status, printed output and what its ``main`` returned."""

    code: int
    stdout: str
    stderr: str
    value: Any = None


def call_cli(main: Callable[..., Any], *args: Any, **kwargs: Any) -> CliResult:
    """Run ``main(*args, **kwargs)`` with stdout and stderr captured; ``SystemExit`` becomes the code.

    Any other exception propagates: in a subprocess it would have been a traceback and exit
    status 1, which no test expects.
    """
    out, err = io.StringIO(), io.StringIO()
    code, value = 0, None
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                value = main(*args, **kwargs)
            except SystemExit as exit_:
                # as the interpreter reads it: None is 0, a message is 1
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        _point_loggers_back(out, err)
    return CliResult(code, out.getvalue(), err.getvalue(), value)


def call_cli_ok(main: Callable[..., Any], *args: Any, **kwargs: Any) -> CliResult:
    """:func:`call_cli` for a command that must succeed: its output is the failure message."""
    result = call_cli(main, *args, **kwargs)
    assert result.code == 0, f'{args} exited with {result.code}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result


def _point_loggers_back(out: io.StringIO, err: io.StringIO) -> None:
    """Loggers made during the call write to the test's streams again, not to a buffer nobody reads.

    mmengine's MMLogger binds ``sys.stdout`` when it is created, and the latest one stays the
    "current" logger that later code logs to.
    """
    from mmengine.logging import MMLogger

    streams = {id(out): sys.stdout, id(err): sys.stderr}
    # MMLogger keeps its instances by name in a class-level dict (mmengine's ManagerMixin)
    for logger in list(MMLogger._instance_dict.values()):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in streams:
                handler.setStream(streams[id(handler.stream)])
