"""Duplicates bench: the 10,000 shared photos plus copies this bench makes, found as a run finds them.

    python bench/duplicates.py                      # collection, quality, queries and one default run
    python bench/duplicates.py --no-run             # without the run (no seconds added)
    python bench/duplicates.py --show out/          # also side-by-side PNGs of the groups counted false
    python bench/duplicates.py --scale 1000000      # the grouping step on a million synthetic photos

Collection (written under ``--folder``, kept between calls): the 10,000 CIFAR-10 photos of
../shared/data/cifar10_train_10k.zip and 700 copies of each kind below, of disjoint photos, under
new names in a folder ``copies/``: ``exact`` (the decoded pixels saved as PNG, BMP, TIFF or lossless
WebP), ``jpeg`` (quality 20-40), ``brightness`` and ``contrast`` (times 1 +- 0.10-0.15), ``crop``
(1 or 2 pixels cut off one side, half the time also another, resized back) and ``all`` (crop,
brightness, contrast, then JPEG). Queries: 200 more copies per near kind, not in the collection.

Printed: recall of each kind (the copy is in its source's group), the groups and the share that
are true (every image in it made from one photo; CIFAR-10's own near copies count as false here),
the share of queries whose source ``images_like`` ranks in its top 5 (near copies first, then the
run's latent space), and with the run, the seconds finding duplicates added to it (its
``duplicates`` and ``apply duplicates`` seconds) against its total.

``--scale N``: N synthetic 32 x 32 photos (each a mosaic of four quarters of random shared photos,
each quarter perhaps mirrored and brightened or darkened by up to 10 %, made when read) of which
1,000 are near copies of others (200 of each near kind), described and grouped as a run does
(``describe`` a chunk of 10,000 at a time, as the apply stage does, then ``find_duplicates``):
seconds of each step, peak memory of this process above what it held before, and recall.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTOS = ROOT.parent / "shared" / "data" / "cifar10_train_10k.zip"
NEAR_KINDS = ("jpeg", "brightness", "contrast", "crop", "all")
KINDS = ("exact", *NEAR_KINDS)
LOSSLESS = (("PNG", ".png", {}), ("BMP", ".bmp", {}), ("TIFF", ".tif", {}), ("WEBP", ".webp", {"lossless": True}))


def encoded(image, form: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=form, **options)
    return buffer.getvalue()


def cropped(image, rng):
    """1 or 2 pixels (x side / 32) off one side, half the time also off a second, resized back."""
    from PIL import Image

    width, height = image.size
    unit = max(1, width // 32)
    box = [0, 0, width, height]
    for side in rng.permutation(4)[:1 + int(rng.random() < 0.5)]:
        cut = int(rng.integers(1, 3)) * unit
        box[side] += cut if side < 2 else -cut
    return image.crop(tuple(box)).resize(image.size, Image.Resampling.BICUBIC)


def make_copy(image, kind: str, rng, number: int = 0) -> tuple[str, bytes]:
    """(suffix, file bytes) of a copy of a Pillow RGB image by ``kind`` (one of ``KINDS``)."""
    from PIL import ImageEnhance

    def factor() -> float:
        return 1.0 + rng.choice([-1, 1]) * rng.uniform(0.10, 0.15)

    def jpeg(picture) -> tuple[str, bytes]:
        return ".jpg", encoded(picture, "JPEG", quality=int(rng.integers(20, 41)))

    if kind == "exact":
        form, suffix, options = LOSSLESS[number % len(LOSSLESS)]
        return suffix, encoded(image, form, **options)
    if kind == "jpeg":
        return jpeg(image)
    if kind in ("brightness", "contrast"):
        enhancer = ImageEnhance.Brightness if kind == "brightness" else ImageEnhance.Contrast
        return ".png", encoded(enhancer(image).enhance(factor()), "PNG")
    if kind == "crop":
        return ".png", encoded(cropped(image, rng), "PNG")
    changed = ImageEnhance.Contrast(ImageEnhance.Brightness(cropped(image, rng)).enhance(factor())).enhance(factor())
    return jpeg(changed)


def build(folder: Path, per_kind: int = 700, queries_per_kind: int = 200, seed: int = 0) -> dict:
    """Write ``collection.zip``, ``queries.zip`` and ``truth.npz`` under ``folder`` (once)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "truth.npz").exists():
        return dict(np.load(folder / "truth.npz"))
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(PHOTOS) as archive:
        names = sorted(name for name in archive.namelist() if name.endswith(".jpg"))
        files = {name: archive.read(name) for name in names}
    pictures = [Image.open(io.BytesIO(files[name])).convert("RGB") for name in names]
    members, source, kind_of = dict(files), {name: i for i, name in enumerate(names)}, dict.fromkeys(names, "original")
    order = rng.permutation(len(names))
    for k, kind in enumerate(KINDS):
        for number, photo in enumerate(order[k * per_kind:(k + 1) * per_kind]):
            suffix, data = make_copy(pictures[photo], kind, rng, number)
            name = f"copies/{rng.bytes(6).hex()}{suffix}"
            members[name], source[name], kind_of[name] = data, int(photo), kind
    queries, query_source, query_kind = {}, {}, {}
    for kind in NEAR_KINDS:
        for number, photo in enumerate(rng.choice(len(names), queries_per_kind, replace=False)):
            suffix, data = make_copy(pictures[photo], kind, rng, number)
            name = f"{kind}-{number:04d}{suffix}"
            queries[name], query_source[name], query_kind[name] = data, int(photo), kind
    for file_name, contents in (("collection.zip", members), ("queries.zip", queries)):
        with zipfile.ZipFile(folder / file_name, "w", zipfile.ZIP_STORED) as archive:
            for name, data in contents.items():
                archive.writestr(name, data)
    ordered, asked = sorted(members), sorted(queries)
    truth = {"names": np.array(ordered), "source": np.array([source[n] for n in ordered]),
             "kind": np.array([kind_of[n] for n in ordered]), "query_names": np.array(asked),
             "query_source": np.array([query_source[n] for n in asked]),
             "query_kind": np.array([query_kind[n] for n in asked]), "photo_names": np.array(names)}
    np.savez(folder / "truth.npz", **truth)
    return truth


def evaluate(group: np.ndarray, truth: dict) -> dict:
    """Recall per kind, groups, the share of true groups, false groups' members, largest group."""
    position = {name: i for i, name in enumerate(truth["names"])}
    original = np.array([position[name] for name in truth["photo_names"]])
    source, kind = truth["source"], truth["kind"]
    copies = np.flatnonzero(kind != "original")
    joined = (group[copies] >= 0) & (group[copies] == group[original[source[copies]]])
    recall = {k: float(joined[kind[copies] == k].mean()) for k in KINDS}
    members = [np.flatnonzero(group == g) for g in range(int(group.max()) + 1)]
    false = [m for m in members if len(np.unique(source[m])) > 1]
    return {"recall": recall, "groups": len(members), "true_share": 1 - len(false) / max(1, len(members)),
            "false": false, "largest": max((len(m) for m in members), default=0)}


def show(false_groups, images: np.ndarray, names: np.ndarray, out: Path) -> list[Path]:
    """Side-by-side PNGs of groups (12 per sheet, images enlarged 3 times), with their names printed."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sheet in range(0, len(false_groups), 12):
        rows = []
        for members in false_groups[sheet:sheet + 12]:
            print("  false group:", ", ".join(str(names[i]) for i in members), file=sys.stderr)
            tiles = [images[i] for i in members[:8]] + [np.ones_like(images[0])] * (8 - min(8, len(members)))
            rows.append(np.pad(np.concatenate(tiles, axis=1), ((2, 2), (0, 0), (0, 0)), constant_values=1.0))
        picture = (np.concatenate(rows) * 255).round().astype(np.uint8)
        path = out / f"false_groups_{sheet // 12}.png"
        Image.fromarray(picture).resize((picture.shape[1] * 3, picture.shape[0] * 3), Image.Resampling.NEAREST).save(path)
        written.append(path)
    return written


def run_cli(collection: Path, out: Path, extra: list[str]) -> dict:
    """A run as a user makes it, on the collection: its metrics."""
    command = [sys.executable, "-m", "core", "run", "--data", str(collection), "--out", str(out), "--quiet", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads((out / "metrics.json").read_text())


def query_shares(run: Path, collection, truth: dict, folder: Path) -> tuple[dict, float]:
    """Share of queries per kind whose source the run's search ranks in its top 5; seconds per query."""
    from core.model.autoencoder import Autoencoder
    from core.run.folder import read_run
    from core.run.lookup import RunSearch

    model = Autoencoder.load(run / "model.keras")
    search = RunSearch(read_run(run), lambda positions: collection.images[positions], lambda: model)
    position = {name: i for i, name in enumerate(truth["names"])}
    wanted = np.array([position[name] for name in truth["photo_names"][truth["query_source"]]])
    hits = []
    start = time.perf_counter()
    with zipfile.ZipFile(folder / "queries.zip") as archive:
        for name, source in zip(truth["query_names"], wanted):
            found = search.like_file(archive.read(str(name)), str(name), top=5).table
            hits.append(source in found["index"].to_numpy())
    seconds = (time.perf_counter() - start) / len(hits)
    hits, kinds = np.array(hits), truth["query_kind"]
    return {k: float(hits[kinds == k].mean()) for k in NEAR_KINDS}, seconds


class Mosaics:
    """``n`` synthetic photos (the last ``len(copies)`` near copies of earlier ones), made when read."""

    def __init__(self, n: int, seed: int = 0, n_copies: int = 1000):
        from PIL import Image

        with zipfile.ZipFile(PHOTOS) as archive:
            photos = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(name))).convert("RGB"))
                               for name in sorted(n for n in archive.namelist() if n.endswith(".jpg"))])
        self.quarters = np.concatenate([photos[:, :16, :16], photos[:, :16, 16:], photos[:, 16:, :16],
                                        photos[:, 16:, 16:]]).astype(np.float32) / 255  # (4P, 16, 16, 3)
        self.n = n
        rng = np.random.default_rng(seed)
        self.pieces = rng.integers(0, len(self.quarters), (n, 4)).astype(np.int32)
        self.mirrored = rng.random((n, 4)) < 0.5
        self.gain = rng.uniform(0.9, 1.1, (n, 4)).astype(np.float32)
        self.copied = np.sort(rng.choice(n - n_copies, n_copies, replace=False))
        self.kinds = np.array([NEAR_KINDS[i % len(NEAR_KINDS)] for i in range(n_copies)])
        originals = self.mosaics(self.copied)
        self.copies = np.stack([np.asarray(Image.open(io.BytesIO(make_copy(
            Image.fromarray((image * 255).round().astype(np.uint8)), kind, rng)[1])).convert("RGB"), np.float32) / 255
            for image, kind in zip(originals, self.kinds)])

    def mosaics(self, positions: np.ndarray) -> np.ndarray:
        """float32 (k, 32, 32, 3): the mosaic of each position, the same every time it is read."""
        pieces = self.quarters[self.pieces[positions]]  # (k, 4, 16, 16, 3)
        pieces = np.where(self.mirrored[positions][:, :, None, None, None], pieces[:, :, :, ::-1], pieces)
        pieces = np.clip(pieces * self.gain[positions][:, :, None, None, None], 0, 1)
        top = np.concatenate([pieces[:, 0], pieces[:, 1]], axis=2)
        return np.concatenate([top, np.concatenate([pieces[:, 2], pieces[:, 3]], axis=2)], axis=1)

    def read(self, positions) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        out = self.mosaics(np.minimum(positions, self.n - len(self.copies) - 1))
        planted = positions >= self.n - len(self.copies)
        out[planted] = self.copies[positions[planted] - (self.n - len(self.copies))]
        return out


def resident_mb() -> float:
    """This process's resident memory now, MiB (Linux)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def scale(n: int) -> None:
    """The grouping step on ``n`` synthetic photos: seconds, peak memory above the start, recall."""
    from core.run.engines import peak_rss_mb
    from core.run.stages import CHUNK_SIZE
    from core.similar.duplicates import DESCRIBED, describe, find_duplicates
    from core.similar.thumbnails import Appearance

    source = Mosaics(n)
    start = time.perf_counter()
    appearance = Appearance().fit(source.read(np.arange(0, n, max(1, n // 20_000))))
    columns = {name: [] for name in DESCRIBED}
    for first in range(0, n, CHUNK_SIZE):
        images = source.read(np.arange(first, min(n, first + CHUNK_SIZE)))
        for name, values in describe(appearance, images).items():
            columns[name].append(values)
    described = {name: np.concatenate(parts) for name, parts in columns.items()}
    del columns
    made = time.perf_counter() - start  # making the mosaics is most of it
    held = resident_mb()
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from what is held now (Linux)
    start = time.perf_counter()
    steps = {}
    found = find_duplicates(described, appearance, source.read, (32, 32, 3), steps)
    seconds = time.perf_counter() - start
    copies = np.arange(n - len(source.copies), n)
    joined = (found.group[copies] >= 0) & (found.group[copies] == found.group[source.copied])
    print(f"| {n:,} | {made:.0f} | {seconds:.0f} ({', '.join(f'{k} {v:.0f}' for k, v in steps.items())}) | "
          f"{sum(v.nbytes for v in described.values()) / 2**20:,.0f} | {peak_rss_mb() - held:,.0f} | "
          f"{found.summary()['groups']:,} | "
          + " | ".join(f"{joined[source.kinds == kind].mean():.3f}" for kind in NEAR_KINDS) + " |")


def main(argv=None) -> int:
    from core.data import load_image_set
    from core.similar.duplicates import describe, find_duplicates
    from core.similar.thumbnails import Appearance

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", help="where the collection is written (default: a temporary folder)")
    parser.add_argument("--no-run", action="store_true", help="skip the run (and with it the seconds and queries)")
    parser.add_argument("--run-args", default="", help="more options for the run, e.g. '--preset seed'")
    parser.add_argument("--reuse-run", action="store_true", help="use the run made by an earlier call in --folder")
    parser.add_argument("--show", metavar="DIR", help="write side-by-side PNGs of the false groups here")
    parser.add_argument("--scale", type=int, metavar="N", help="only the grouping step on N synthetic photos")
    args = parser.parse_args(argv)
    if args.scale:
        print("| images | describe s (apply stage, with making the images) | find s (steps) | described MB | "
              "peak memory added while finding MB | groups | " + " | ".join(NEAR_KINDS) + " |\n"
              + "| --- " * (6 + len(NEAR_KINDS)) + "|")
        scale(args.scale)
        return 0
    folder = Path(args.folder or tempfile.mkdtemp(prefix="duplicates-"))
    truth = build(folder)
    collection = load_image_set(folder / "collection.zip")
    assert list(collection.ids) == list(truth["names"])
    start = time.perf_counter()
    appearance = Appearance().fit(collection.images)
    steps = {}
    found = find_duplicates(describe(appearance, collection.images, collection.digests), appearance,
                            collection.images.__getitem__, collection.image_shape, steps)
    seconds = time.perf_counter() - start
    result = evaluate(found.group, truth)
    print(f"collection: {len(collection):,} images ({folder / 'collection.zip'}); found in {seconds:.1f} s "
          f"({', '.join(f'{name} {value:.1f} s' for name, value in steps.items())})\n")
    print("| exact | " + " | ".join(NEAR_KINDS) + " | groups | true groups | largest group |")
    print("| --- " * (len(KINDS) + 3) + "|")
    print("| " + " | ".join(f"{result['recall'][k]:.3f}" for k in KINDS)
          + f" | {result['groups']:,} | {result['true_share']:.3f} ({len(result['false'])} false) | {result['largest']} |")
    if args.show:
        for path in show(result["false"], collection.images, collection.ids, Path(args.show)):
            print(f"wrote {path}", file=sys.stderr)
    if args.no_run:
        return 0
    out = folder / "run"
    if args.reuse_run and (out / "run.json").exists():
        metrics = json.loads((out / "metrics.json").read_text())
    else:
        metrics = run_cli(folder / "collection.zip", out, args.run_args.split())
    spent = metrics["seconds"].get("duplicates", 0.0) + metrics["seconds"].get("apply duplicates", 0.0)
    shares, per_query = query_shares(out, collection, truth, folder)
    print(f"\nthe run ({args.run_args or 'default settings'}): {metrics['duplicates']}; finding duplicates took "
          f"{spent:.1f} s of its {metrics['seconds']['total']:.0f} s ({spent / metrics['seconds']['total']:.1%}); "
          f"seconds by stage: {metrics['seconds']}\n")
    print("| queries: source in the top 5 | " + " | ".join(NEAR_KINDS) + " | seconds per query |")
    print("| --- " * (len(NEAR_KINDS) + 2) + "|")
    print("| images_like | " + " | ".join(f"{shares[k]:.3f}" for k in NEAR_KINDS) + f" | {per_query:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
