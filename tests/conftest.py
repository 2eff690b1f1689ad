"""Shared fixtures: the real reference images in ../shared/data, and small trained models.

Models train small (a few epochs on about 2,000 images) so the suite stays fast on 2 cores.
"""

from pathlib import Path

import numpy as np
import pytest

from core.data import ImageSet, concatenate, load_image_set

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        raise FileNotFoundError(f"reference data {path} is missing: the tests need ../shared/data beside the repo")
    return path


@pytest.fixture(scope="session")
def mnist_test() -> ImageSet:
    """The 10,000 MNIST test images with labels, (10000, 28, 28, 1)."""
    return load_image_set(shared_file("mnist_test.npz"))


@pytest.fixture(scope="session")
def mnist_2000(mnist_test) -> ImageSet:
    """The first 2,000 MNIST test images."""
    return mnist_test.subset(np.arange(2000))


@pytest.fixture(scope="session")
def fashion_20() -> ImageSet:
    """20 Fashion-MNIST test images flagged as anomalies."""
    fashion = load_image_set(shared_file("fashion_mnist_ood.npz")).subset(np.arange(20))
    return ImageSet(fashion.images, None, np.char.add("fashion-", fashion.ids), "fashion",
                    anomaly_flags=np.ones(20, dtype=bool))


@pytest.fixture(scope="session")
def mnist_with_outliers(mnist_2000, fashion_20) -> ImageSet:
    """2,000 MNIST images followed by 20 Fashion-MNIST outliers (flagged), no labels."""
    unlabeled = ImageSet(mnist_2000.images, None, mnist_2000.ids, "mnist")
    return concatenate(unlabeled, fashion_20, name="mnist + fashion")


@pytest.fixture(scope="session")
def seed_model(mnist_with_outliers):
    """The seed preset trained for 2 epochs on the 2,020 images of ``mnist_with_outliers``."""
    from core.model import Autoencoder

    return Autoencoder(preset="seed", epochs=2, seed=0).fit(mnist_with_outliers)
