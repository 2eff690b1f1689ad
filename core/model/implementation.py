"""Which implementation of the seed network trains faster on this machine: measured once, kept.

The seed network can train with Keras' own ``Conv2D`` and ``MaxPooling2D`` ("keras"), with
:mod:`core.model.layers`' equal-output forms ("shifted"), or with those compiled by XLA ("shifted+xla",
which pays a compilation of several seconds first). Which is fastest depends on the CPU (AVX2 or
AVX-512, cache sizes) and on how long the training is. :func:`measure` times a few hundred steps of
each once per machine (seconds) and keeps the result in the user's cache folder;
:func:`choose` then picks, for a planned number of steps, the one with the least predicted time
(a short training on a machine not measured yet trains with Keras' own layers, unmeasured).
The same machine and config thus always train with the same implementation (their results differ
by float rounding), and metrics.json records which.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

from core.settings import cache_dir

IMPLEMENTATIONS = ("keras", "shifted", "shifted+xla")
MEASURE_STEPS = 96
BATCH = 32
VERSION = 1


def cache_path() -> Path:
    return cache_dir() / "seed-network-speed.json"


def machine_id() -> str:
    """The CPU model, its instruction-set flags and the TensorFlow version, hashed."""
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                cpu += line
    except OSError:
        pass
    text = f"{VERSION}|{cpu}|{tf.__version__}|{os.cpu_count()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kept() -> dict | None:
    """This machine's kept measurement (see :func:`measured`), or None."""
    try:
        found = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and found.get("machine") == machine_id() else None


def measured() -> dict:
    """Seconds per training step of each implementation, and the XLA compilation's seconds, for
    this machine: read from the cache, or measured now and kept."""
    found = kept()
    if found is not None:
        return found
    path, key = cache_path(), machine_id()
    found = {"machine": key, **measure()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from core.files import write_text

        write_text(path, json.dumps(found, indent=2))
    except OSError:  # nowhere to keep it: measured again next time
        pass
    return found


def measure() -> dict:
    """Time ``MEASURE_STEPS`` steps of each implementation at batch 32 on 28 x 28 images."""
    import numpy as np

    from core import import_keras
    from core.model.presets import _build_seed

    keras = import_keras()
    images = np.random.default_rng(0).random((MEASURE_STEPS * BATCH, 28, 28, 1), dtype=np.float32)
    found = {}
    for name in IMPLEMENTATIONS:
        keras.utils.set_random_seed(0)
        encoder, decoder = _build_seed((28, 28, 1), shifted=name != "keras")
        inputs = keras.Input((28, 28, 1))
        model = keras.Model(inputs, decoder(encoder(inputs)))
        model.compile(optimizer=keras.optimizers.Adadelta(1.0), loss="binary_crossentropy", steps_per_execution=32,
                      jit_compile=name == "shifted+xla")
        start = time.perf_counter()
        model.fit(images[:32 * BATCH], images[:32 * BATCH], batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        first = time.perf_counter() - start  # tracing (and XLA's compilation) plus 32 steps
        start = time.perf_counter()
        model.fit(images, images, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        per_step = (time.perf_counter() - start) / MEASURE_STEPS
        found[name] = per_step
        found[f"{name} start"] = max(0.0, first - 32 * per_step)
    return found


def choose(steps: int, speeds: dict | None = None) -> str:
    """The implementation with the least predicted time for ``steps`` training steps: its start
    (tracing, compilation) plus steps times its seconds per step, from this machine's kept
    measurement. Without one, a training of fewer than ``MEASURE_WORTH_STEPS`` steps trains with
    Keras' own layers and measures nothing: the measurement itself would cost more than the other
    forms could save, and the seed preset must never be slower than plain Keras."""
    speeds = speeds or kept()
    if speeds is None:
        if steps < MEASURE_WORTH_STEPS:
            return "keras"
        speeds = measured()
    return min(IMPLEMENTATIONS, key=lambda name: speeds[f"{name} start"] + steps * speeds[name])


# Training steps from which measuring the three forms (a few hundred steps each and one XLA compilation,
# together the time of a few thousand of Keras' steps) can repay itself when the faster form saves about
# a fifth of a step.
MEASURE_WORTH_STEPS = 20_000
