"""Atomic file writes: a killed process never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO


def usual_permissions(path: Path) -> None:
    """Give a file (0666) or folder (0777) the permissions the umask allows: ``mkstemp`` and
    ``mkdtemp`` create them private to the owner."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed into place.

    ``suffix`` is kept at the end of the temporary name (Keras insists on ``.weights.h5``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    usual_permissions(Path(tmp))  # mkstemp makes 0600 files
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy a file atomically."""
    with atomic_path(dst) as tmp:
        tmp.write_bytes(Path(src).read_bytes())


def _probe_folder(folder: Path) -> str | None:
    """Why no file can be created in ``folder``, or None (a real probe: permission bits do not
    bind root, read-only mounts do not show in them)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".nmt-probe.", dir=folder)
    except OSError as err:
        return f"cannot create files in {folder} ({err.strerror})"
    os.close(fd)
    os.unlink(probe)
    return None


def output_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be written as an output file, or None. Checked before slow work."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a directory, not a file"
    if path.exists() and not path.is_file():
        return None  # a device or FIFO (/dev/stdout, a named pipe): opened as it is
    folder = path.parent
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    return _probe_folder(folder)


def output_folder_problem(path: str | Path) -> str | None:
    """Why files cannot be written into folder ``path`` (created later if missing), or None."""
    path = Path(path)
    if path.exists():
        return _probe_folder(path) if path.is_dir() else f"{path} exists and is not a folder"
    existing = next(parent for parent in path.parents if parent.exists())
    if not existing.is_dir():
        return f"{existing} is not a folder"
    return _probe_folder(existing)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (through links too), existing or not."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


@contextlib.contextmanager
def output_stream(path: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text stream to ``path``: a regular file is written beside and renamed into place
    on success, so an interrupted run leaves the previous file as it was; a device or FIFO is
    written directly."""
    path = Path(path)
    if path.exists() and not path.is_file():
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
        return
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as stream:
        yield stream


def folder_megabytes(path: Path) -> float:
    """The size of the files below ``path``, in MB."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def write_folder(
    write: Callable[[], Path], out_dir: str | Path, refused: tuple[type[Exception], ...]
) -> tuple[int, Path | None]:
    """Run a command's ``write`` of ``out_dir``: (0, the folder) on success; one ``error:``
    line and (2, None) for the ``refused`` errors (what the user asked cannot be done), (1,
    None) for a folder that cannot be written."""
    import sys

    try:
        return 0, write()
    except refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2, None
    except OSError as err:
        print(f"error: cannot write {out_dir}: {err}", file=sys.stderr)
        return 1, None


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a new folder beside ``path`` to fill; on success it is renamed to ``path`` (which
    must be missing or an empty folder: ``rmdir`` refuses anything else), on failure removed,
    so an interrupted export leaves nothing half-written under ``path``."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        for item in [staging, *staging.rglob("*")]:
            usual_permissions(item)  # mkdtemp makes 0700 folders
        if path.exists():
            path.rmdir()
        staging.rename(path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
