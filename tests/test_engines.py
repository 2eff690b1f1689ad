"""Engines apply the fitted stages to chunks of images: this process (no Dask imported), with the
command line's flags checked. The Dask engine's own tests are in tests/test_scale.py."""

import sys

import numpy as np
import pytest

from core.data import load_image_set
from core.errors import UserInputError
from core.run import RunConfig
from core.run.engines import DaskEngine, LocalEngine, engine_for, peak_rss_mb
from core.run.progress import Progress
from core.run.stages import APPLIED, fit_pipeline


@pytest.fixture(scope="module")
def fitted_on_digits():
    """The default stages fitted (5 epochs) on the first 600 built-in digits; the set of all 1,797."""
    digits = load_image_set("digits")
    sample = digits.subset(np.arange(600))
    fitted, outputs, _ = fit_pipeline(RunConfig(epochs=5), sample, sample, True, Progress())
    return fitted, outputs, digits


def test_the_local_engine_applies_every_chunk_in_order_and_reports_each(fitted_on_digits):
    fitted, _, digits = fitted_on_digits
    chunks = [np.arange(600, 1000), np.arange(1000, 1797)]
    progress, heard = Progress(), []
    progress.listen(lambda p, event: heard.append((p.chunks_done, p.chunks)))
    applied = list(LocalEngine().apply(fitted, digits, chunks, progress))
    assert [positions.tolist() for positions, _, _ in applied] == [chunk.tolist() for chunk in chunks]
    assert heard == [(1, 2), (2, 2)]
    for positions, results, seconds in applied:
        expected = set(APPLIED) - {"representation"}  # the network learns from the digits' pixels
        assert expected <= set(results) and "representation" not in results
        assert {"read", "encode", "map", "cluster", "anomaly"} <= set(seconds)
        assert all(len(results[name]) == len(positions) for name in expected)
        assert results["cluster"].min() >= 0 and results["cluster"].max() < 10
    assert "distributed" not in sys.modules  # no Dask in a run without an engine flag


def test_a_row_gets_the_same_results_in_any_chunk(fitted_on_digits):
    fitted, _, digits = fitted_on_digits
    positions = np.arange(700, 760)
    alone = fitted.apply(digits.read(positions[:7]).images)
    together = fitted.apply(digits.read(positions).images)
    np.testing.assert_array_equal(alone["cluster"], together["cluster"][:7])
    np.testing.assert_allclose(alone["anomaly_score"], together["anomaly_score"][:7], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone["map"], together["map"][:7], rtol=1e-5, atol=1e-5)


def test_the_fitted_images_keep_what_the_fit_gave_them(fitted_on_digits):
    fitted, outputs, digits = fitted_on_digits
    again = fitted.apply(digits.read(np.arange(600)).images)
    agree = np.mean(again["cluster"] == outputs["cluster"])
    assert agree > 0.95  # a fitted row is placed by its neighbours, itself among them


def test_the_engine_flags_are_checked_before_any_work():
    assert engine_for() is None
    with pytest.raises(UserInputError, match="not both"):
        engine_for(workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UserInputError, match="--workers must be from 1 to 256"):
        engine_for(workers=0)
    assert isinstance(engine_for(workers=2), DaskEngine)  # the cluster starts on first use, not here


def test_the_dask_engine_refuses_data_its_workers_cannot_read(fitted_on_digits):
    fitted, _, digits = fitted_on_digits
    with pytest.raises(UserInputError, match="folder of .npz shards"):
        next(DaskEngine(workers=1).apply(fitted, digits, [np.arange(10)], Progress()))


def test_peak_memory_is_this_processes_own():
    assert peak_rss_mb() > 50  # MiB: this test process holds at least Python, NumPy and TensorFlow
