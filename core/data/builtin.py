"""The built-in sources: scikit-learn's digits (offline) and Keras' MNIST and Fashion-MNIST."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from core.data.arrays import from_arrays
from core.data.images import ImageSet, index_ids
from core.errors import UserInputError
from core.similar.digests import digest_rows

BUILTIN_SOURCES = ("digits", "mnist", "fashion-mnist")


def load_digits() -> ImageSet:
    """scikit-learn's 1,797 8x8 grey digit images (values 0-16 scaled to [0, 1]) with labels 0-9.

    Read straight from the file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: one
    row of 64 pixels and the label per image) when it is there, without importing scikit-learn:
    that import takes seconds, and the app's first page shows these images.
    """
    sklearn = importlib.util.find_spec("sklearn")
    path = Path(sklearn.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.is_file():
        table = np.loadtxt(path, delimiter=",")
        pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1]
    else:
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        pixels, target = bunch.images, bunch.target
    images = (pixels / 16.0).astype(np.float32)[..., np.newaxis]
    return ImageSet(
        images=images,
        labels=target.astype(np.int64),
        ids=index_ids(len(images)),
        name="digits",
        digests=digest_rows(pixels),
    )


def load_keras_dataset(name: str) -> dict[str, ImageSet]:
    """MNIST or Fashion-MNIST through ``keras.datasets``: {"train": 60,000, "test": 10,000}."""
    try:
        from keras import datasets

        module = datasets.mnist if name == "mnist" else datasets.fashion_mnist
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # Keras raises bare Exception subclasses for failed downloads
        raise UserInputError(
            f"could not download {name} through Keras ({type(error).__name__}); without internet use "
            "'digits', or a local .npz, .zip or folder of images"
        ) from error
    return {
        "train": from_arrays(x_train, y_train, f"{name} train"),
        "test": from_arrays(x_test, y_test, f"{name} test"),
    }

