"""Image sources: every kind of input becomes one ImageSet; bad files raise UserInputError."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.data import (
    MAX_SIDE,
    ImageSet,
    load_image_set,
    load_splits,
    load_train_and_analysis_sets,
)
from core.errors import UserInputError


def to_png(image: np.ndarray, mode: str = "L") -> bytes:
    """A float (H, W, 1) image in [0, 1] as PNG bytes in the given Pillow mode."""
    pixels = (image[..., 0] * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def labeled_members(image_set: ImageSet, prefix="digits/") -> dict[str, bytes]:
    return {f"{prefix}{label}/{i:03d}.png": to_png(image)
            for i, (image, label) in enumerate(zip(image_set.images, image_set.labels))}


@pytest.fixture(scope="module")
def mnist_60(mnist_test) -> ImageSet:
    return mnist_test.subset(np.arange(60))


def assert_well_formed(image_set: ImageSet, n_images: int, shape: tuple):
    assert len(image_set) == n_images
    assert image_set.image_shape == shape
    images = image_set.read(np.arange(n_images)).images  # a folder is read in batches: here all at once
    assert images.dtype == np.float32 and images.shape == (n_images, *shape)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert len(set(image_set.ids)) == n_images


def test_digits_is_the_offline_builtin():
    digits = load_image_set("digits")
    assert_well_formed(digits, 1797, (8, 8, 1))
    assert sorted(set(digits.labels)) == list(range(10))
    assert digits.images.max() == 1.0
    from sklearn.datasets import load_digits  # read from its file without scikit-learn: same images

    reference = load_digits()
    np.testing.assert_array_equal(digits.images[..., 0], (reference.images / 16.0).astype(np.float32))
    np.testing.assert_array_equal(digits.labels, reference.target)


def test_npz_in_the_seed_layout_is_a_split_source(tmp_path, mnist_test):
    x = (mnist_test.images[:300, ..., 0] * 255).round().astype(np.uint8)
    y = mnist_test.labels[:300].astype(np.uint8)
    np.savez(tmp_path / "seed.npz", x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])

    splits = load_splits(tmp_path / "seed.npz")
    assert set(splits) == {"train", "test"}
    assert_well_formed(splits["train"], 200, (28, 28, 1))
    np.testing.assert_array_equal(splits["test"].labels, y[200:])
    np.testing.assert_allclose(splits["test"].images, mnist_test.images[200:300])
    train, analysed = load_train_and_analysis_sets(tmp_path / "seed.npz")
    assert (len(train), len(analysed)) == (200, 100)


@pytest.mark.parametrize("layout", ["uint8 NHW", "float NHWC", "float channels-first", "float 0-255"])
def test_npz_in_plain_layouts(tmp_path, mnist_60, layout):
    images = mnist_60.images
    arrays = {
        "uint8 NHW": (images[..., 0] * 255).round().astype(np.uint8),
        "float NHWC": images,
        "float channels-first": np.moveaxis(images, -1, 1),
        "float 0-255": images * 255.0,
    }
    np.savez(tmp_path / "plain.npz", images=arrays[layout], labels=mnist_60.labels)

    loaded = load_image_set(tmp_path / "plain.npz")
    assert_well_formed(loaded, 60, (28, 28, 1))
    np.testing.assert_allclose(loaded.images, images, atol=1 / 255)
    np.testing.assert_array_equal(loaded.labels, mnist_60.labels)


def test_npz_anomaly_flags_and_string_labels(tmp_path, mnist_60):
    flags = np.zeros(60, dtype=np.uint8)
    flags[:3] = 1
    names = np.array(["odd" if v % 2 else "even" for v in mnist_60.labels])
    np.savez(tmp_path / "flags.npz", x=mnist_60.images, y=names, anomaly=flags)

    loaded = load_image_set(tmp_path / "flags.npz")
    assert loaded.anomaly_flags.sum() == 3
    assert loaded.label_names == ("even", "odd")
    assert [loaded.label_names[i] for i in loaded.labels] == list(names)


def test_zip_with_label_folders(tmp_path, mnist_60):
    path = write_zip(tmp_path / "digits.zip", labeled_members(mnist_60) | {"digits/readme.txt": b"notes"})

    loaded = load_image_set(path)
    assert_well_formed(loaded, 60, (28, 28, 1))
    by_id = dict(zip(loaded.ids, loaded.labels))
    for i, label in enumerate(mnist_60.labels):
        assert by_id[f"digits/{label}/{i:03d}.png"] == label
    first = list(loaded.ids).index(f"digits/{mnist_60.labels[0]}/000.png")
    np.testing.assert_allclose(loaded.images[first], mnist_60.images[0], atol=1 / 255)


def test_zip_without_label_folders(tmp_path, mnist_60):
    members = {f"all/{i:03d}.png": to_png(image) for i, image in enumerate(mnist_60.images)}
    loaded = load_image_set(write_zip(tmp_path / "flat.zip", members))
    assert_well_formed(loaded, 60, (28, 28, 1))
    assert loaded.labels is None
    assert loaded.ids[0] == "all/000.png"


@pytest.mark.parametrize("with_labels", [True, False])
def test_folder_of_images(tmp_path, mnist_60, with_labels):
    for i, (image, label) in enumerate(zip(mnist_60.images, mnist_60.labels)):
        folder = tmp_path / "images" / (str(label) if with_labels else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:03d}.png").write_bytes(to_png(image))
    (tmp_path / "images" / ".hidden.png").write_bytes(b"not an image")

    loaded = load_image_set(tmp_path / "images")
    assert_well_formed(loaded, 60, (28, 28, 1))
    if with_labels:
        assert sorted(loaded.labels) == sorted(mnist_60.labels)
    else:
        assert loaded.labels is None


def test_mixed_sizes_and_modes_follow_the_majority(tmp_path, mnist_60):
    members = {f"{i:03d}.png": to_png(image) for i, image in enumerate(mnist_60.images[:50])}
    for i, image in enumerate(mnist_60.images[50:]):
        big = Image.open(io.BytesIO(to_png(image, "RGB"))).resize((40, 33))
        buffer = io.BytesIO()
        big.save(buffer, format="JPEG")
        members[f"odd-{i}.jpg"] = buffer.getvalue()

    loaded = load_image_set(write_zip(tmp_path / "mixed.zip", members))
    assert_well_formed(loaded, 60, (28, 28, 1))  # majority: grey 28x28
    resized = loaded.images[list(loaded.ids).index("odd-0.jpg")]
    assert np.corrcoef(resized.ravel(), mnist_60.images[50].ravel())[0, 1] > 0.9


def test_colour_majority_and_large_images_are_scaled_to_max_side(tmp_path, mnist_60):
    members = {}
    for i, image in enumerate(mnist_60.images[:20]):
        picture = Image.open(io.BytesIO(to_png(image, "RGB"))).resize((200, 100))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        members[f"{i}.png"] = buffer.getvalue()

    loaded = load_image_set(write_zip(tmp_path / "colour.zip", members))
    assert_well_formed(loaded, 20, (MAX_SIDE // 2, MAX_SIDE, 3))


# --- bad input ---------------------------------------------------------------------------------


def test_corrupt_npz_is_refused(tmp_path):
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(UserInputError, match="corrupt|not a readable"):
        load_image_set(tmp_path / "corrupt.npz")


def test_npz_with_a_pickled_object_array_is_refused_unread(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    objects = np.empty(2, dtype=object)
    objects[0] = Boom()
    np.savez(tmp_path / "pickled.npz", x=objects)
    with pytest.raises(UserInputError, match="pickled object array"):
        load_image_set(tmp_path / "pickled.npz")


def test_zip_slip_member_is_refused(tmp_path, mnist_60):
    members = labeled_members(mnist_60.subset(np.arange(12))) | {"../evil.png": to_png(mnist_60.images[0])}
    with pytest.raises(UserInputError, match="outside the archive"):
        load_image_set(write_zip(tmp_path / "slip.zip", members))


def test_empty_zip_is_refused(tmp_path):
    with pytest.raises(UserInputError, match="no images"):
        load_image_set(write_zip(tmp_path / "empty.zip", {}))


def test_a_single_image_is_too_few(tmp_path, mnist_60):
    np.savez(tmp_path / "one.npz", x=mnist_60.images[:1])
    with pytest.raises(UserInputError, match="1 image.*at least"):
        load_train_and_analysis_sets(tmp_path / "one.npz")


@pytest.mark.parametrize("bad, message", [
    (np.full((20, 28, 28), np.nan, dtype=np.float32), "NaN"),
    (np.full((20, 28, 28), 300.0), "0-1 or 0-255"),
    (np.zeros((0, 28, 28)), "empty"),
    (np.zeros((20, 28)), "shape"),
])
def test_npz_with_bad_values_or_shapes(tmp_path, bad, message):
    np.savez(tmp_path / "bad.npz", x=bad)
    with pytest.raises(UserInputError, match=message):
        load_image_set(tmp_path / "bad.npz")


def test_labels_of_the_wrong_length_are_refused(tmp_path, mnist_60):
    np.savez(tmp_path / "labels.npz", x=mnist_60.images, y=mnist_60.labels[:10])
    with pytest.raises(UserInputError, match="10 labels for 60 images"):
        load_image_set(tmp_path / "labels.npz")


def test_unknown_source_names_the_alternatives():
    with pytest.raises(UserInputError, match="digits, mnist, fashion-mnist"):
        load_image_set("no-such-thing")


def test_train_and_analysis_sets_must_share_an_image_shape(tmp_path, mnist_60):
    np.savez(tmp_path / "mnist.npz", x=mnist_60.images)
    with pytest.raises(UserInputError, match="same image size"):
        load_train_and_analysis_sets("digits", train_spec=tmp_path / "mnist.npz")
