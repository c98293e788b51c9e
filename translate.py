#!/usr/bin/env python3
"""Translate interactively, from a file or from a pipe. See ``python translate.py --help``."""

import sys

from nmt.cli_translate import main

if __name__ == "__main__":
    sys.exit(main())
