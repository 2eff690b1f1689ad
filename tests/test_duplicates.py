"""Exact and near copies on real photos: found in groups by every run, written in its results and
metrics, and searched from the command line (`python -m core similar`).

The collection: 120 CIFAR-10 photos (JPEGs from the shared zip, in three class folders) and copies
of 25 of them under new names, made as bench/duplicates.py makes them: the decoded pixels saved as
PNG, BMP, TIFF or lossless WebP (exact), and a JPEG at quality 20-40, a brightness change, a crop of
a pixel or two, and all of those together (near).
"""

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.duplicates import make_copy
from core.data import load_image_set
from core.similar.digests import pixel_digest
from core.similar.duplicates import describe, find_duplicates
from core.similar.thumbnails import Appearance
from tests.conftest import ROOT, shared_file

KINDS = ("exact", "jpeg", "brightness", "crop", "all")
PER_KIND = 5


def photo_collection(folder) -> tuple:
    """Write ``holiday photos.zip`` in ``folder``. Returns (its path, {copy name: (source name, kind)},
    a held-out query (file name, bytes, its source's name))."""
    with zipfile.ZipFile(shared_file("cifar10_train_10k.zip")) as source:
        names = [name for label in ("cat", "ship", "truck")
                 for name in sorted(n for n in source.namelist() if n.startswith(f"{label}/"))[:40]]
        members = {name: source.read(name) for name in names}
    rng = np.random.default_rng(0)
    copies = {}
    for k, kind in enumerate(KINDS):
        for number in range(PER_KIND):
            original = names[7 * (k * PER_KIND + number) % len(names)]
            suffix, data = make_copy(Image.open(io.BytesIO(members[original])).convert("RGB"), kind, rng, number)
            name = f"copies/{kind}-{number}{suffix}"
            members[name], copies[name] = data, (original, kind)
    held_out = names[1]  # a photo without copies in the collection
    suffix, query = make_copy(Image.open(io.BytesIO(members[held_out])).convert("RGB"), "all", rng)
    with zipfile.ZipFile(folder / "holiday photos.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return folder / "holiday photos.zip", copies, (f"query{suffix}", query, held_out)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return photo_collection(tmp_path_factory.mktemp("photos"))


def check_groups(group: np.ndarray, ids, copies: dict) -> None:
    """Every copy shares a group with its source and nothing else; every other photo has none."""
    position = {name: i for i, name in enumerate(ids)}
    for name, (original, _) in copies.items():
        together = np.flatnonzero(group == group[position[original]])
        assert group[position[name]] >= 0 and set(together) == {position[original], position[name]}, name
    with_copies = {position[name] for name in copies} | {position[original] for original, _ in copies.values()}
    assert all(group[i] == -1 for i in range(len(ids)) if i not in with_copies)


def test_exact_and_near_copies_are_grouped_with_their_source(collection):
    path, copies, _ = collection
    photos = load_image_set(path)
    appearance = Appearance().fit(photos.images)
    found = find_duplicates(describe(appearance, photos.images, photos.digests), appearance,
                            photos.images.__getitem__, photos.image_shape)
    check_groups(found.group, photos.ids, copies)
    kinds = dict(zip(photos.ids, found.kinds()))
    assert all(kinds[name] == ("exact" if kind == "exact" else "near") for name, (_, kind) in copies.items())
    assert found.summary() == {"groups": 25, "images": 50, "exact_groups": 5}
    near = np.array([kind != "exact" for _, kind in copies.values()])
    distance = dict(zip(photos.ids, found.distance))
    assert all(0 < distance[name] <= 0.35 for name, is_near in zip(copies, near) if is_near)

    table = found.table(photos.ids)
    assert list(table.columns) == ["group", "index", "id", "kind", "keep"]
    assert len(table) == 50 and table.groupby("group")["keep"].sum().eq(1).all()  # one kept per group


def test_a_digest_is_of_the_pixels_whatever_the_file():
    photo = np.asarray(Image.open(io.BytesIO(zipfile.ZipFile(shared_file("cifar10_train_10k.zip")).read(
        "cat/0000.jpg"))).convert("L"))
    as_rgb = np.repeat(photo[..., None], 3, axis=-1)
    opaque = np.dstack([as_rgb, np.full(photo.shape, 255, np.uint8)])
    assert pixel_digest(photo) == pixel_digest(as_rgb) == pixel_digest(opaque) == pixel_digest(photo[..., None])
    changed = photo.copy()
    changed[0, 0] ^= 1
    assert pixel_digest(changed) != pixel_digest(photo)
    assert pixel_digest(photo.astype(np.uint16)) != pixel_digest(photo)  # the type is part of it


def similar(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "core", "similar", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run_folder(collection, tmp_path_factory):
    """A command-line run on the collection, fitted on 100 of its 145 photos (the rest applied)."""
    out = tmp_path_factory.mktemp("run") / "out"
    done = subprocess.run([sys.executable, "-m", "core", "run", "--data", str(collection[0]), "--preset", "seed",
                           "--epochs", "1", "--fit-sample", "100", "--out", str(out), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return out


def test_a_run_writes_each_images_group_after_its_id_and_counts_them_in_its_metrics(collection, run_folder):
    _, copies, _ = collection
    table = pd.read_csv(run_folder / "results.csv", dtype={"id": str, "label": str})
    assert list(table.columns)[-2:] == ["id", "duplicate_group"]
    pd.testing.assert_frame_equal(pd.read_parquet(run_folder / "results.parquet"), table, check_dtype=False)
    check_groups(table["duplicate_group"].to_numpy(), table["id"], copies)
    metrics = json.loads((run_folder / "metrics.json").read_text())
    assert metrics["duplicates"] == {"groups": 25, "images": 50, "exact_groups": 5}
    assert metrics["data"]["fit_sample"] == 100 and "apply duplicates" in metrics["seconds"]
    record = json.loads((run_folder / "run.json").read_text())
    assert "duplicates.npz" in record["sha256"]


def test_similar_ranks_the_source_of_a_held_out_copy_first_and_prints_only_csv(collection, run_folder, tmp_path):
    _, copies, (name, query, source) = collection
    (tmp_path / name).write_bytes(query)
    done = similar("--run", run_folder, "--image", tmp_path / name)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "rank,index,id,distance" and len(lines) == 11  # default K is 10
    found = pd.read_csv(io.StringIO(done.stdout), dtype={"id": str})
    assert found["rank"].tolist() == list(range(1, 11)) and found["id"][0] == source
    assert 0 < found["distance"][0] <= 0.35  # its near-copy distance

    copy_name, (original, _) = next((n, c) for n, c in copies.items() if c[1] == "exact")
    with zipfile.ZipFile(collection[0]) as archive:
        (tmp_path / "same pixels.png").write_bytes(archive.read(copy_name))
    done = similar("--run", run_folder, "--image", tmp_path / "same pixels.png", "--top", "3")
    found = pd.read_csv(io.StringIO(done.stdout), dtype={"id": str})
    assert done.returncode == 0 and len(found) == 3
    assert set(found["id"][:2]) == {copy_name, original} and (found["distance"][:2] == 0).all()  # exact copies


def test_an_image_file_is_encoded_and_placed_on_the_map_as_the_apply_stage_places_it(collection, run_folder):
    from core.model.autoencoder import Autoencoder
    from core.run.folder import read_run
    from core.run.lookup import RunSearch, place_on_map

    result = read_run(run_folder)
    applied = np.setdiff1d(np.arange(len(result.table)), result.sample)  # placed by the apply stage
    places = result.table[["map_x", "map_y"]].to_numpy()
    rounding = 0.005 * np.ptp(places, axis=0)  # neighbour distances of a chunk and of one row differ in float32
    np.testing.assert_allclose(place_on_map(result, result.latent[applied]), places[applied], atol=rounding.max())
    photos = load_image_set(collection[0])
    search = RunSearch(result, lambda positions: photos.read(positions).images,
                       lambda: Autoencoder.load(run_folder / "model.keras"))
    index = int(applied[-1])  # a copy (copies/ sorts last), of PNG, BMP, TIFF or WebP pixels or a JPEG
    with zipfile.ZipFile(collection[0]) as archive:
        found = search.like_file(archive.read(photos.ids[index]), photos.ids[index], top=4)
    np.testing.assert_allclose(found.latent, result.latent[index], atol=1e-5)
    np.testing.assert_allclose(found.place, places[index], atol=rounding.max())
    assert found.table["index"][0] == index and found.table["distance"][0] == 0  # itself: the same pixels
    assert list(found.table.columns) == ["rank", "index", "distance", "near_copy", "id"]


@pytest.mark.parametrize("make_file, message", [
    (lambda folder: _write(folder / "notes.png", b"not an image at all"), "not a readable image"),
    (lambda folder: _write(folder / "empty.jpg", b""), "empty file"),
    (lambda folder: folder / "missing.png", "no such image file"),
    (lambda folder: _write(folder / "tiny.png", _png(np.zeros((2, 2), np.uint8))), "too small"),
])
def test_similar_refuses_a_file_it_cannot_take_with_one_line(run_folder, tmp_path, make_file, message):
    done = similar("--run", run_folder, "--image", make_file(tmp_path), timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr


def test_similar_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "photo.png").write_bytes(_png(np.zeros((8, 8), np.uint8)))
    done = similar("--run", tmp_path, "--image", tmp_path / "photo.png", timeout=120)
    assert done.returncode == 2 and "holds no complete run" in done.stderr and done.stdout == ""


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_keeping_one_of_a_group_marks_the_others_duplicate_and_no_label_name_counts_it():
    from core.labels import DUPLICATE, LabelBook, agreement

    book = LabelBook.empty(np.array(["a.png", "b.png", "c.png", "d.png"]))
    book.assign([0], "cat")
    book.keep_one(1, [0, 2])
    assert book.labels.tolist() == [DUPLICATE, "", DUPLICATE, ""] and book.sources[0] == "manual"
    book.keep_one(0, [1])  # the other way round: the kept one loses its mark
    assert book.labels.tolist() == ["", DUPLICATE, DUPLICATE, ""]
    assert book.progress()["duplicates"] == 2 and book.progress()["names"] == 0
    assert agreement(book.labels, np.array(["cat"] * 4)) is None  # marks are not names
