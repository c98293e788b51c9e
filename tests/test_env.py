"""TensorFlow's start-up notices are held back; anything else written to stderr is not."""

import os
import sys

from nmt.env import _STARTUP_CHATTER, _filtered_stderr


def test_startup_chatter_is_dropped_and_other_lines_kept(capfd):
    with _filtered_stderr(_STARTUP_CHATTER):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are ...\n")
        os.write(2, b"I0000 00:00:1 123 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"E0000 00:00:1 123 cuda_platform.cc:52] failed call to cuInit: 303\n")
        os.write(2, b"I0000 00:00:1 123 port.cc:153] oneDNN custom operations are on. You may\n")
        os.write(2, b"a real warning\n")
        print("from python", file=sys.stderr)
    err = capfd.readouterr().err
    assert sorted(err.splitlines()) == ["a real warning", "from python"]


def test_keras_starts_without_its_optional_modules_which_still_import_later():
    import subprocess

    code = (
        "import sys; from nmt.env import quiet_tensorflow; quiet_tensorflow(); "
        "import keras; from keras.src.trainers.data_adapters import array_slicing; "
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules), "
        "array_slicing.pandas); import pandas, matplotlib; print('later ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.splitlines() == ["[] None", "later ok"]
    assert "InitializeLog" not in out.stderr  # the start-up notices are gone


def test_translating_tools_ask_for_onednn_unless_the_user_chose():
    import subprocess

    code = (
        "import os, sys; from nmt.env import prefer_onednn; "
        "print(prefer_onednn(), os.environ['TF_ENABLE_ONEDNN_OPTS'], 'tensorflow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    for user, expected in ((None, "True 1 False"), ("0", "False 0 False")):
        if user is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = user
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


def test_install_claims_match_the_pins():
    """pyproject and README claim the Pythons the pinned wheels exist for, and the README's
    install creates a virtual environment (system Pythons refuse pip under PEP 668)."""
    import re
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    assert (3, 11) <= sys.version_info[:2] < (3, 14)
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "Python 3.11, 3.12 or 3.13" in readme and "3.10" not in readme
    install = re.search(r"```bash\n(python3 -m venv [^\n]+)\n```", readme)
    assert install and "pip install -r requirements.txt" in install.group(1)
    assert "tensorflow[and-cuda]" in readme


def test_native_bf16_is_read_from_the_cpu_flags():
    from nmt.env import cpu_has_native_bf16

    zen4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    sapphire = "flags\t\t: avx2 avx512f amx_bf16 amx_tile\n"
    avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\nbugs\t\t: avx512_bf16\n"
    assert cpu_has_native_bf16(zen4) and cpu_has_native_bf16(sapphire)
    assert not cpu_has_native_bf16(avx2)  # only the flags line counts
    assert not cpu_has_native_bf16("")


def test_auto_precision_is_bf16_only_on_a_native_bf16_cpu():
    from nmt.env import training_precision

    assert training_precision("auto", has_gpu=False, native_bf16=True) == "mixed_bfloat16"
    assert training_precision("auto", has_gpu=False, native_bf16=False) == "float32"
    assert training_precision("auto", has_gpu=True, native_bf16=True) == "float32"
    assert training_precision("none", has_gpu=False, native_bf16=True) == "float32"
    assert training_precision("mixed_float16", has_gpu=True, native_bf16=False) == "mixed_float16"


def test_several_workers_get_one_intra_op_thread_each_unless_the_user_chose():
    import subprocess

    code = (
        "import sys; import tensorflow as tf; from nmt.env import one_core_per_worker; "
        "n, late = int(sys.argv[1]), sys.argv[2] == 'late'; late and tf.constant(1) + 1; "
        "print(one_core_per_worker(n), tf.config.threading.get_intra_op_parallelism_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    cases = (
        ("2", "early", None, "True 1"),
        ("1", "early", None, "False 0"),
        ("2", "early", "2", "False 0"),  # the user's TF_NUM_INTRAOP_THREADS wins
        ("2", "late", None, "False 0"),  # TensorFlow has started: the pool stays as it is
    )
    for workers, when, user, expected in cases:
        run_env = env if user is None else {**env, "TF_NUM_INTRAOP_THREADS": user}
        out = subprocess.run(
            [sys.executable, "-c", code, workers, when], env=run_env, capture_output=True,
            text=True, check=True, timeout=120,
        )  # fmt: skip
        assert out.stdout.strip().splitlines()[-1] == expected
