"""One entry point from a *spec* string to image sets.

Specs: ``digits`` (scikit-learn's bundled 8x8 digits, offline), ``mnist`` and ``fashion-mnist``
(through ``keras.datasets``, downloaded on first use), or a path to an ``.npz`` file, a ``.zip``
file, or a folder of images or of ``.npz`` shards.
"""

from __future__ import annotations

from pathlib import Path

from core.data.builtin import BUILTIN_SOURCES, load_digits, load_keras_dataset
from core.data.folders import open_folder
from core.data.images import ImageSet, ImageSource
from core.data.limits import MAX_IMAGES, MAX_SIDE, check_image_count
from core.data.npz import load_npz
from core.data.zips import load_zip
from core.errors import UserInputError


def load_splits(spec: str | Path, *, max_side: int = MAX_SIDE) -> dict[str, ImageSet]:
    """Load a source as named splits.

    Returns ``{"train": ..., "test": ...}`` for sources that come split (``mnist``,
    ``fashion-mnist``, an npz with both ``x_train`` and ``x_test``), else ``{"all": ...}``.
    Raises :class:`UserInputError` for anything a user can fix.
    """
    text = str(spec).strip()
    if text == "digits":
        return {"all": load_digits()}
    if text in ("mnist", "fashion-mnist"):
        return load_keras_dataset(text)
    path = Path(text).expanduser()
    if not path.exists():
        raise UserInputError(
            f"no such dataset or file: '{text}'; use one of {', '.join(BUILTIN_SOURCES)} "
            "or a path to an .npz file, a .zip file or a folder of images"
        )
    if path.is_dir():
        return {"all": open_folder(path, max_side=max_side)}
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return load_npz(path, max_side=max_side)
    if suffix == ".zip":
        return {"all": load_zip(path, max_side=max_side)}
    raise UserInputError(f"'{path.name}' is not an .npz, .npy or .zip file or a folder of images")


def load_image_set(spec: str | Path, *, split: str = "test", max_side: int = MAX_SIDE) -> ImageSet:
    """Load one ImageSet; for split sources take ``split`` ("train" or "test")."""
    splits = load_splits(spec, max_side=max_side)
    return splits.get(split, next(iter(splits.values())))


def load_train_and_analysis_sets(
    data_spec: str | Path, train_spec: str | Path | None = None, *, embeddings: str | Path | None = None,
    max_side: int = MAX_SIDE
) -> tuple[ImageSet, ImageSet]:
    """The (training set, analysis set) for a run.

    Without ``train_spec`` the autoencoder trains on the images it analyses, except for split
    sources (``mnist``, ``fashion-mnist``, an npz with ``x_train`` and ``x_test``): those train on
    their train split and analyse their test split. With ``train_spec`` it trains on that source
    (its train split if it has one) and analyses ``data_spec`` (its test split if it has one).

    With ``embeddings`` (a file of vectors a user brought, ``core.data.embeddings``) the analysed
    images get their vectors and the network trains on them: the training set is the analysed set.
    """
    data_splits = load_splits(data_spec, max_side=max_side)
    analysis_set = data_splits.get("test", data_splits.get("all"))
    if embeddings is not None:
        if train_spec is not None:
            raise UserInputError("--train-data and --embeddings together are not supported: with your embeddings "
                                 "the network learns from the analysed images' vectors")
        from core.data.embeddings import attach_embeddings

        check_number_of_images(analysis_set)
        analysis_set = attach_embeddings(analysis_set, embeddings)
        return analysis_set, analysis_set
    if train_spec is None:
        train_set = data_splits.get("train", analysis_set)
    else:
        train_set = load_image_set(train_spec, split="train", max_side=max_side)
        if train_set.image_shape != analysis_set.image_shape:
            raise UserInputError(
                f"training images are {_shape_text(train_set.image_shape)} but analysed images are "
                f"{_shape_text(analysis_set.image_shape)}; use sources with the same image size and colour mode"
            )
    for image_set in (train_set, analysis_set):
        check_number_of_images(image_set)
    return train_set, analysis_set


def check_number_of_images(source: ImageSource) -> None:
    """Raise UserInputError for too few images, or too many for a source held in memory."""
    check_image_count(len(source), source.name, limit=None if source.on_disk else MAX_IMAGES)


def _shape_text(shape) -> str:
    height, width, channels = shape
    return f"{height}x{width} {'grey' if channels == 1 else 'colour'}"

