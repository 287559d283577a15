"""``daspm-convert FORMAT RAW [-o OUT] ...``: the one command line of every converter.

``python -m daspm.convert`` runs it too, and ``tools/convert_datasets/<format>.py`` call
:func:`main` with their format (their arguments are those of the format here, their
description their docstring). ``custom`` takes ``--images/--masks/--classes`` instead of RAW.
"""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from daspm.utils.errors import exit_on_input_error

from .formats import FORMATS
from .formats.custom import CUSTOM as CUSTOM_FORMAT
from .formats.custom import CUSTOM_DESCRIPTION, add_custom_arguments, custom_options, custom_summary
from .jobs import ConvertOptions
from .outputs import default_output_dir
from .pipeline import convert

CUSTOM = 'custom'
_RAW = argparse.RawDescriptionHelpFormatter


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The arguments of format ``name``: RAW and the shared options, then the format's own."""
    if name == CUSTOM:
        add_custom_arguments(parser)
        return
    fmt = FORMATS[name]
    parser.add_argument('raw_dir', help=fmt.raw_help())
    parser.add_argument(*fmt.out_flags, dest='out', default=None,
                        help='output folder (default: <raw_dir>_converted beside raw_dir)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--symlink-images', action='store_true',
                        help='symlink images into img_dir/ instead of copying them')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image of a previous conversion in the output folder '
                             '(default: resume, skipping finished images)')
    fmt.add_arguments(parser)


def _epilog(name: str) -> str:
    return '' if name == CUSTOM else FORMATS[name].epilog()


def build_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The parser of one format's tool script; ``description`` is the tool's docstring."""
    parser = argparse.ArgumentParser(description=description, formatter_class=_RAW, epilog=_epilog(name) or None)
    add_arguments(parser, name)
    return parser


def build_cli_parser() -> argparse.ArgumentParser:
    """``daspm-convert``: one sub-command per format."""
    parser = argparse.ArgumentParser(
        prog='daspm-convert', formatter_class=_RAW,
        description='Convert a raw dataset to the DASPM layout (img_dir/ + ann_dir/, split files, RCS statistics).',
        epilog='daspm-convert FORMAT --help lists the options and label tables of one format; see docs/datasets.md.')
    sub = parser.add_subparsers(dest='format', metavar='FORMAT', required=True, title='formats')
    for name in (*FORMATS, CUSTOM):
        description = (f'{FORMATS[name].description} (dataset: {FORMATS[name].dataset_type})' if name in FORMATS
                       else CUSTOM_DESCRIPTION)
        add_arguments(sub.add_parser(name, help=description, description=description, formatter_class=_RAW,
                                     epilog=_epilog(name) or None), name)
    return parser


def run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Convert what ``args`` name with format ``name``, print the one-screen summary, return the result."""
    if name == CUSTOM:
        result = convert(CUSTOM_FORMAT, custom_options(args))
        lines = custom_summary(result)
    else:
        fmt = FORMATS[name]
        out = args.out if args.out is not None else default_output_dir(args.raw_dir)
        options = ConvertOptions(args.raw_dir, out, nproc=args.nproc, symlink_images=args.symlink_images,
                                 overwrite=args.overwrite, progress=True, **fmt.options(args))
        result = convert(fmt, options)
        lines = fmt.summary(args.raw_dir, result)
    for line in lines:
        print(line)
    return result


@exit_on_input_error
def main(name: str, description: str, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """A tool script's entry: parse ``argv`` for format ``name`` and convert (input errors: one line, exit 2)."""
    return run(name, build_parser(name, description).parse_args(argv))


@exit_on_input_error
def cli(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``daspm-convert FORMAT ...`` (input errors: one line, exit 2)."""
    args = build_cli_parser().parse_args(argv)
    return run(args.format, args)


__all__ = ['CUSTOM', 'add_arguments', 'build_parser', 'build_cli_parser', 'run', 'main', 'cli']
