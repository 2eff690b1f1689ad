"""Embeddings a user brings: read, checked, matched to the images by id, and a run on them.

The vectors are made here: a fixed random projection of each image's pixels (so a vector says
what its image shows, as a real model's would), written as .npz and .parquet files.
"""

import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.cli import main
from core.data import load_image_set
from core.data.embeddings import EmbeddedSource, attach_embeddings
from core.data.folders import open_folder
from core.data.load import load_train_and_analysis_sets
from core.errors import UserInputError

DIMENSIONS = 12


def projected(images: np.ndarray, dimensions: int = DIMENSIONS) -> np.ndarray:
    """(N, dimensions) float32: a fixed (seeded) random projection of (N, H, W, C) images' pixels."""
    flat = images.reshape(len(images), -1)
    return (flat @ np.random.default_rng(7).normal(size=(flat.shape[1], dimensions))).astype(np.float32)


def write_npz(path, ids, vectors):
    np.savez(path, ids=np.asarray(ids), embeddings=vectors)
    return path


def write_parquet(path, ids, vectors, as_list=True):
    frame = pd.DataFrame({"id": list(ids)})
    if as_list:
        frame["embedding"] = list(vectors)
    else:
        for column in range(vectors.shape[1]):
            frame[f"d{column}"] = vectors[:, column]
    frame.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def digits():
    return load_image_set("digits")


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, digits):
    """The digits' vectors as an .npz and a .parquet, in a shuffled order, with 5 extra vectors."""
    folder = tmp_path_factory.mktemp("embeddings")
    order = np.random.default_rng(1).permutation(len(digits))
    ids = np.concatenate([digits.ids[order], [f"other-{n}" for n in range(5)]])
    vectors = np.concatenate([projected(digits.images)[order], np.ones((5, DIMENSIONS), np.float32)])
    return {"npz": write_npz(folder / "digits.npz", ids, vectors),
            "parquet": write_parquet(folder / "digits.parquet", ids, vectors),
            "columns": write_parquet(folder / "columns.parquet", ids, vectors, as_list=False),
            "folder": folder}


@pytest.mark.parametrize("kind", ["npz", "parquet", "columns"])
def test_an_array_matches_its_vectors_by_index_and_counts_the_extra_ones(digits, digit_files, kind):
    matched = attach_embeddings(digits, digit_files[kind])
    np.testing.assert_allclose(matched.vectors, projected(digits.images), rtol=1e-6)
    assert matched.embeddings.extra == 5 and matched.embeddings.dimensions == DIMENSIONS
    assert "5 vectors whose id matches no image were ignored" in matched.embeddings.describe()
    assert matched.subset(np.array([3, 1])).vectors.tolist() == matched.vectors[[3, 1]].tolist()
    assert matched.fingerprint() != digits.fingerprint()


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((image[..., 0] * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_zip_and_a_folder_match_their_vectors_by_path(tmp_path, digits):
    images = digits.images[:40]
    names = [f"{'odd' if n % 2 else 'even'}/digit {n}.png" for n in range(40)]
    with zipfile.ZipFile(tmp_path / "digits.zip", "w") as archive:
        for name, image in zip(names, images):
            archive.writestr(name, _png(image))
    for name, image in zip(names, images):
        (tmp_path / "folder" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "folder" / name).write_bytes(_png(image))
    vectors = projected(images)
    embeddings = write_parquet(tmp_path / "by path.parquet", names[::-1], vectors[::-1])
    for spec in (tmp_path / "digits.zip", tmp_path / "folder"):
        _, analysed = load_train_and_analysis_sets(spec, embeddings=embeddings)
        chunk = analysed.read(np.arange(len(analysed)))
        expected = {name: vector for name, vector in zip(names, vectors)}
        np.testing.assert_allclose(chunk.vectors, np.stack([expected[i] for i in chunk.ids]), rtol=1e-6)
        assert analysed.embeddings.extra == 0


def test_shards_match_by_shard_and_row_and_read_by_positions_from_an_aligned_copy(tmp_path, digits):
    (tmp_path / "shards").mkdir()
    np.savez(tmp_path / "shards" / "a.npz", x=digits.images[:300, ..., 0])
    np.savez(tmp_path / "shards" / "b.npz", x=digits.images[300:500, ..., 0])
    shards = open_folder(tmp_path / "shards")
    ids = shards.ids
    vectors = projected(digits.images[:500])
    order = np.random.default_rng(2).permutation(500)
    embeddings = write_parquet(tmp_path / "shards.parquet", ids[order], vectors[order])
    source = attach_embeddings(shards, embeddings, aligned_dir=tmp_path / "aligned")
    assert isinstance(source, EmbeddedSource) and source.on_disk and len(source) == 500
    assert ids[0] == "a.npz:0" and ids[300] == "b.npz:0"
    positions = np.array([0, 299, 300, 499])
    chunk = pickle.loads(pickle.dumps(source)).read(positions)  # as a Dask worker reads it
    np.testing.assert_allclose(chunk.vectors, vectors[positions], rtol=1e-6)
    np.testing.assert_allclose(chunk.images, digits.images[positions], atol=1 / 255)
    assert source.fingerprint() != shards.fingerprint()


def _bad_files(folder, digits):
    """{what is wrong: (file, the words its one line must hold)}."""
    ids, vectors = digits.ids, projected(digits.images)
    ragged = np.empty(len(ids), dtype=object)
    ragged[:] = [np.ones(DIMENSIONS if n else 5) for n in range(len(ids))]
    nan, infinite = vectors.copy(), vectors.copy()
    nan[7, 2], infinite[9, 0] = np.nan, np.inf
    frame = pd.DataFrame({"id": ids, "embedding": [list(v) for v in vectors]})
    frame.loc[3, "embedding"] = [1.0, 2.0]
    text = pd.DataFrame({"id": ids, "a": vectors[:, 0], "b": ["x"] * len(ids)})
    np.savez(folder / "ragged.npz", ids=ids, embeddings=ragged)
    return {
        "missing file": (folder / "absent.npz", "no such embeddings file"),
        "ids match no image": (write_npz(folder / "none.npz", np.char.add("img-", ids), vectors),
                               f"none of the {len(ids):,} ids"),
        "images without a vector": (write_npz(folder / "some.npz", ids[3:], vectors[3:]),
                                    "3 of 1,797 images have no vector in 'some.npz', the first '0'"),
        "duplicate ids": (write_npz(folder / "twice.npz", np.concatenate([ids, ids[:2]]),
                                    np.concatenate([vectors, vectors[:2]])), "duplicate ids"),
        "lengths differ (parquet)": (frame.to_parquet(folder / "ragged.parquet") or folder / "ragged.parquet",
                                     "different lengths: row 4 has 2 numbers"),
        "lengths differ (npz)": (folder / "ragged.npz", "different lengths"),
        "not numeric (parquet)": (text.to_parquet(folder / "text.parquet") or folder / "text.parquet",
                                  "column 'b' holds text, not numbers"),
        "not numeric (npz)": (write_npz(folder / "text.npz", ids, vectors.astype(str)), "not numbers"),
        "NaN": (write_npz(folder / "nan.npz", ids, nan), "NaN or infinite values (the first in row 8)"),
        "infinite": (write_parquet(folder / "inf.parquet", ids, infinite), "NaN or infinite values (the first in row 10)"),
        "truncated parquet": ((folder / "cut.parquet").write_bytes(
            write_parquet(folder / "whole.parquet", ids, vectors).read_bytes()[:4000]) and folder / "cut.parquet",
                              "not a readable .parquet file"),
        "one dimension": (write_npz(folder / "one.npz", ids, vectors[:, :1]), "at least 2 are needed"),
        "not an embeddings file": ((folder / "vectors.csv").write_text("id,a,b\n") and folder / "vectors.csv",
                                   "not an embeddings file"),
    }


def test_every_bad_file_is_one_line_in_core_and_status_2_on_the_command_line(tmp_path, digits, capsys):
    for problem, (path, words) in _bad_files(tmp_path, digits).items():
        with pytest.raises(UserInputError, match=None) as caught:
            load_train_and_analysis_sets("digits", embeddings=path)
        assert words in str(caught.value) and "\n" not in str(caught.value), problem
        assert main(["run", "--data", "digits", "--embeddings", str(path), "--out", str(tmp_path / "out"),
                     "--quiet"]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and words in error and "\n" not in error, problem
    assert not (tmp_path / "out").exists()  # nothing written, nothing trained


def test_files_over_the_size_limits_are_refused_before_they_are_read(tmp_path, digits, digit_files, monkeypatch):
    import core.data.embeddings as embeddings

    monkeypatch.setattr(embeddings, "MAX_DIMENSIONS", 8)
    with pytest.raises(UserInputError, match="vectors of 12 numbers; the limit is 8"):
        attach_embeddings(digits, digit_files["parquet"])
    monkeypatch.setattr(embeddings, "MAX_DIMENSIONS", 8192)
    monkeypatch.setattr(embeddings, "MAX_VECTOR_BYTES", 10_000)
    with pytest.raises(UserInputError, match="MiB of arrays; the limit is"):  # the npz, from its headers
        attach_embeddings(digits, digit_files["npz"])
    with pytest.raises(UserInputError, match="the limit for images held in memory"):
        attach_embeddings(digits, digit_files["parquet"])


def test_embeddings_with_the_seed_preset_or_separate_training_images_are_refused(digit_files, tmp_path, capsys):
    assert main(["run", "--data", "digits", "--embeddings", str(digit_files["npz"]), "--preset", "seed",
                 "--out", str(tmp_path / "out")]) == 2
    assert "seed preset's convolutions need pixels" in capsys.readouterr().err
    with pytest.raises(UserInputError, match="--train-data and --embeddings together"):
        load_train_and_analysis_sets("digits", "digits", embeddings=digit_files["npz"])


def test_a_command_line_run_learns_from_the_vectors_and_compares_kmeans_on_them(digits, digit_files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--data", "digits", "--embeddings", str(digit_files["parquet"]), "--epochs", "2",
                 "--fit-sample", "600",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "embeddings from digits.parquet: 12 numbers per image; 5 vectors whose id matches no image" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["embeddings"] == str(digit_files["parquet"])
    assert metrics["data"]["embeddings"] == {"file": "digits.parquet", "dimensions": 12, "extra": 5}
    assert metrics["model"]["representation"] == "vectors" and "12 numbers of each vector" in metrics["model"]["network"]
    compared = {row["method"]: row for row in metrics["comparison"]["clustering"]}
    assert compared["KMeans on your embeddings"]["accuracy"] > 0.3  # ten digits: chance is about 0.1
    results = pd.read_csv(out / "results.csv")
    assert len(results) == len(digits) and results["id"].astype(str).tolist() == digits.ids.tolist()
    assert np.isfinite(results["anomaly_score"]).all() and results["cluster"].nunique() > 1
    with np.load(out / "embedding.npz") as stored:  # what the network saw: the vectors, standardised
        assert stored["representation"].shape == (len(digits), DIMENSIONS)
    image = tmp_path / "mine.png"
    image.write_bytes(_png(digits.images[0]))
    assert main(["similar", "--run", str(out), "--image", str(image)]) == 2
    error = capsys.readouterr().err.strip()
    assert "has no vector in that file" in error and "\n" not in error

    from core.run.config import RunConfig
    from core.run.store import run_key

    other = write_npz(tmp_path / "other.npz", digits.ids, projected(digits.images, 6))
    keys = {run_key(RunConfig(embeddings=str(spec)), fingerprint, fingerprint)
            for spec in (digit_files["parquet"], other, None)
            for fingerprint in [load_train_and_analysis_sets("digits", embeddings=spec)[1].fingerprint()]}
    assert len(keys) == 3  # other vectors, another run
