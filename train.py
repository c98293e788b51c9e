#!/usr/bin/env python3
"""Train, resume or fine-tune a translation model. See ``python train.py --help``."""

import sys

from nmt.cli_train import main

if __name__ == "__main__":
    sys.exit(main())
