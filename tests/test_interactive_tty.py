"""translate.py at a real (pseudo-)terminal: prompt, readline history, commands, Ctrl-D."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from conftest import REPO

pty = pytest.importorskip("pty")


class Terminal:
    """A child process on a pseudo-terminal, and what it has written so far."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.text = ""

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait_for(self, needle: str, count: int = 1, timeout: float = 180.0) -> None:
        """Read until ``needle`` has appeared ``count`` times in all output so far."""
        deadline = time.monotonic() + timeout
        while self.text.count(needle) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} (x{count}) within {timeout} s:\n{self.text}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {needle!r}:\n{self.text}")
                self.text += chunk.decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def test_interactive_session_at_a_terminal(trained_run, tmp_path):
    history = tmp_path / "history"
    env = dict(os.environ, NMT_HISTORY_FILE=str(history), TF_CPP_MIN_LOG_LEVEL="3", TERM="xterm")
    term = Terminal([sys.executable, str(REPO / "translate.py"), "-m", str(trained_run)], env)
    try:
        term.wait_for("> ")  # type only at a prompt: readline owns the terminal then
        term.type(b"alpha bravo charlie\n")
        term.wait_for("CHARLIE BRAVO ALPHA")
        term.wait_for("s, beam")  # the time each translation took
        term.wait_for("> ", count=2)
        term.type(b":beam 1\n")
        term.wait_for("beam size 1")
        term.wait_for("> ", count=3)
        term.type(b"\x1b[A\x1b[A\n")  # up arrow twice: readline recalls the sentence
        term.wait_for("CHARLIE BRAVO ALPHA", count=2)
        term.wait_for("beam 1)")
        term.wait_for("> ", count=4)
        term.type(b"\x04")  # Ctrl-D at an empty prompt leaves
        assert term.proc.wait(timeout=60) == 0
    finally:
        term.close()
    assert "alpha bravo charlie" in history.read_text(encoding="utf-8")
