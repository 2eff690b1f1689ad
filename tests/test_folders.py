"""Folders read lazily: .npz shards and image files, any positions, labels and ids from the folder."""

import pickle

import numpy as np
import pytest
from PIL import Image

from core.data import ImageFolder, ShardFolder, open_folder
from core.errors import UserInputError
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def digits_350():
    with np.load(shared_file("mnist_test.npz")) as arrays:
        return arrays["x_test"][:350], arrays["y_test"][:350]


@pytest.fixture(scope="module")
def shard_folder(tmp_path_factory, digits_350):
    """Shards of 100, 200 and 50 MNIST digits (the last in a sub-folder); anomaly flags in the second."""
    images, labels = digits_350
    folder = tmp_path_factory.mktemp("shards")
    (folder / "sub").mkdir()
    flags = np.zeros(200, dtype=bool)
    flags[[3, 7]] = True
    np.savez(folder / "a.npz", x=images[:100], y=labels[:100])
    np.savez(folder / "b.npz", x=images[100:300], y=labels[100:300], anomaly=flags)
    np.savez(folder / "sub" / "c.npz", images=images[300:], labels=labels[300:])
    return folder


def test_shards_read_any_positions_as_the_whole_array_would_give_them(shard_folder, digits_350):
    images, labels = digits_350
    source = open_folder(shard_folder)
    assert isinstance(source, ShardFolder) and source.on_disk and len(source) == 350
    assert source.image_shape == (28, 28, 1)
    positions = np.array([349, 0, 120, 99, 100, 301])
    read = source.read(positions)
    np.testing.assert_array_equal(read.images[..., 0], images[positions].astype(np.float32) / 255)
    np.testing.assert_array_equal(read.labels, labels[positions])
    assert list(read.ids) == ["sub/c.npz:49", "a.npz:0", "b.npz:20", "a.npz:99", "b.npz:0", "sub/c.npz:1"]
    assert np.flatnonzero(source.anomaly_flags).tolist() == [103, 107]


def test_a_shard_source_pickles_without_its_cached_pixels(shard_folder):
    source = open_folder(shard_folder)
    source.read(np.arange(10))
    assert source._cached is not None
    copy = pickle.loads(pickle.dumps(source))
    assert copy._cached is None
    np.testing.assert_array_equal(copy.read(np.arange(5)).images, source.read(np.arange(5)).images)


def test_shards_of_different_image_sizes_are_refused(tmp_path, digits_350):
    images, _ = digits_350
    np.savez(tmp_path / "a.npz", x=images[:50])
    np.savez(tmp_path / "b.npz", x=images[:50, :20, :20])
    with pytest.raises(UserInputError, match="same image size"):
        open_folder(tmp_path)


def test_an_image_folder_takes_sub_folder_names_as_labels_and_paths_as_ids(tmp_path, digits_350):
    images, labels = digits_350
    for position in range(30):
        folder = tmp_path / ("odd" if labels[position] % 2 else "even")
        folder.mkdir(exist_ok=True)
        Image.fromarray(images[position]).save(folder / f"{position:03d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_folder(tmp_path)
    assert isinstance(source, ImageFolder) and len(source) == 30 and source.label_names == ("even", "odd")
    read = source.read(np.array([5, 0]))
    assert all(str(name).endswith(".png") for name in read.ids)
    for row, image_id in enumerate(read.ids):
        position = int(image_id.split("/")[1][:3])
        np.testing.assert_array_equal(read.images[row, ..., 0], images[position] / np.float32(255))
        assert read.label_text()[row] == ("odd" if labels[position] % 2 else "even")
    assert source.fingerprint() == open_folder(tmp_path).fingerprint()


def test_positions_outside_the_folder_are_an_error(shard_folder):
    with pytest.raises(IndexError):
        open_folder(shard_folder).read(np.array([350]))
