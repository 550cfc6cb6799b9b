"""Environment values read in several places: the home directory, the model hub's offline
default and the encoder's thread count. The service's own settings (`api/settings.py`) build
on these helpers.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "TINYSEEK_HOME"
THREADS_ENV = "TINYSEEK_TORCH_THREADS"
THREAD_POOL_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def home_dir() -> Path:
    """Where tinyseek keeps what it builds per machine (the default encoder, demo indexes,
    the eval index cache): $TINYSEEK_HOME, else the user cache directory
    (~/.cache/tinyseek on Linux, honouring $XDG_CACHE_HOME)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tinyseek", appauthor=False))


def encoder_threads() -> int:
    """Encoder threads per process: $TINYSEEK_TORCH_THREADS, default 1 (a server's
    concurrency comes from its requests, not from intra-op threads)."""
    return int(os.environ.get(THREADS_ENV, "1"))


def use_offline_defaults() -> None:
    """No model hub here: load models from local paths unless the user says otherwise, and
    keep the tokenizers library from forking thread pools under a server."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pin_thread_pools(threads: int) -> None:
    """Size the OpenMP / MKL / OpenBLAS pools; effective only before those libraries load."""
    for name in THREAD_POOL_ENVS:
        os.environ[name] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
