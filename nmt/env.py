"""Process-wide setup shared by the command-line tools."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# TensorFlow's C++ start-up lines that only say that this machine has no GPU, or which CPU
# instructions the build could use; its absl logging ignores TF_CPP_MIN_LOG_LEVEL for them.
_STARTUP_CHATTER = re.compile(
    r"absl::InitializeLog\(\)|cudart_stub\.cc|cpu_feature_guard\.cc|"
    r"^To enable the following instructions|failed call to cuInit|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"oneDNN custom operations are on"
)


# Optional imports that Keras makes at start-up (to recognise DataFrames, for its image-plot
# helpers) and that cost about a second on a small CPU; nmt needs neither from Keras.
_KERAS_OPTIONAL = ("pandas", "matplotlib")


@contextlib.contextmanager
def _without_modules(names: tuple[str, ...]) -> Iterator[None]:
    """Make ``import NAME`` fail for ``names`` not yet imported, inside the block only; a later
    import works as usual."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


@contextlib.contextmanager
def _filtered_stderr(drop: re.Pattern[str]) -> Iterator[None]:
    """Hold back what is written to file descriptor 2, then print the lines ``drop`` misses."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not drop.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def one_core_per_worker(workers: int) -> bool:
    """With several threads translating side by side (the server's workers, a file's
    batches), run each call's operations on its own thread (TensorFlow's intra-op pool of
    one): most of a search's operations are too small to split, and calls sharing one pool slow
    each other down, while calls on separate cores run side by side (docs/serve.md,
    docs/translate_speed.md). A user's ``TF_NUM_INTRAOP_THREADS`` wins. Call it before
    TensorFlow runs anything (later, the pool stays as it is). Returns whether it set it."""
    if workers <= 1 or "TF_NUM_INTRAOP_THREADS" in os.environ:
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow has started already
        return False
    return True


def translation_workers(requested: int | None) -> int:
    """The threads a translating tool runs a request's batches on: ``requested``, else one per
    CPU (one with a GPU), each on its own core (``one_core_per_worker``). Call it once
    TensorFlow is imported and before it runs anything."""
    workers = requested or (1 if has_gpu() else usable_cpus())
    one_core_per_worker(workers)
    return workers


def prefer_onednn() -> bool:
    """Ask TensorFlow for its oneDNN CPU kernels (``TF_ENABLE_ONEDNN_OPTS=1``), which it turns on
    by itself only on CPUs with AVX-512 / AMX. On an AVX2 CPU they made translation faster and
    training slower (docs/translate_speed.md), so the translating tools call this
    and ``train.py`` does not. A user's own setting wins; it only works before TensorFlow is
    imported. Returns whether oneDNN is requested."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras and find the devices, without TensorFlow's C++ start-up
    chatter and without the optional modules Keras would load (pandas, matplotlib: about a
    second on a small CPU; they still import normally afterwards).

    Call it once a command-line tool has parsed its arguments (so ``--help`` stays instant).
    Lines other than the known no-GPU / CPU-build notices still reach stderr; a user who sets
    ``TF_CPP_MIN_LOG_LEVEL`` below 3 sees everything.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3" or "tensorflow" in sys.modules:
        return
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        stderr_fd = None  # stderr replaced by a Python object (tests): nothing to filter
    context = _filtered_stderr(_STARTUP_CHATTER) if stderr_fd == 2 else contextlib.nullcontext()
    with context, _without_modules(_KERAS_OPTIONAL):
        import keras  # noqa: F401  (imported here so that it skips the optional modules)
        import tensorflow as tf

        tf.config.list_physical_devices()


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512_BF16 or AMX-BF16), from
    ``/proc/cpuinfo`` (or the text given); False where it cannot be read."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def training_precision(setting: str, has_gpu: bool, native_bf16: bool) -> str:
    """The Keras dtype policy training uses for ``train.mixed_precision``: ``auto`` is
    ``mixed_bfloat16`` on a CPU that multiplies bfloat16 natively (the LSTMs' and the output
    layer's products are most of a step) and float32 elsewhere (a GPU keeps float32, as the
    cuDNN path was tested with it; emulated bfloat16 is slower than float32)."""
    if setting != "auto":
        return "float32" if setting == "none" else setting
    return "mixed_bfloat16" if native_bf16 and not has_gpu else "float32"


@functools.cache
def has_gpu() -> bool:
    """Whether TensorFlow sees a GPU (asked once per process; imports TensorFlow)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
