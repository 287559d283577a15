"""``python -m daspm.convert FORMAT RAW ...``: the same command as ``daspm-convert``."""
from daspm.convert.cli import cli

if __name__ == '__main__':
    cli()
