"""TensorFlow's start-up notices are held back; anything else written to stderr is not."""

import os
import sys

from nmt.env import _STARTUP_CHATTER, _filtered_stderr


def test_startup_chatter_is_dropped_and_other_lines_kept(capfd):
    with _filtered_stderr(_STARTUP_CHATTER):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are ...\n")
        os.write(2, b"I0000 00:00:1 123 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"E0000 00:00:1 123 cuda_platform.cc:52] failed call to cuInit: 303\n")
        os.write(2, b"a real warning\n")
        print("from python", file=sys.stderr)
    err = capfd.readouterr().err
    assert sorted(err.splitlines()) == ["a real warning", "from python"]
