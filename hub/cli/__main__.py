"""`python -m hub.cli`: the same as the `hub` command."""

from hub.cli import entry

if __name__ == "__main__":  # not when a tool walks the package and imports every module
    entry()
