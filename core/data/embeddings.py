"""Vectors a user brings (embeddings computed elsewhere: CLIP, DINO, a ResNet), read, checked and
matched to the images by id.

Files: an ``.npz`` with ``ids`` (N strings or integers) and ``embeddings`` (N x d numbers), or a
``.parquet`` with an ``id`` column and either one numeric column per dimension or one list column
``embedding``. The ids are the ones results.csv writes: the path inside a zip or folder,
``<shard>:<row>`` for shards, the index for a single array. Every image needs a vector; vectors
whose id matches no image are ignored and counted (:class:`~core.data.images.Embeddings`).

A Parquet file is read in row batches of ``BATCH_ROWS``, never whole: once for its ids, once for
its values, which are checked (numbers, one length, finite) and gathered in image order, into
memory for a collection held in memory (at most ``MAX_VECTOR_BYTES``), or, for a folder read in
batches, into an aligned float32 ``.npy`` under the cache folder that :class:`EmbeddedSource`
reads by positions (memory-mapped): the driver then holds the ids and one batch.

:func:`attach_embeddings` is the entry point; every problem a user can cause is one
:class:`UserInputError` line.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.data.images import Embeddings, ImageSet
from core.data.limits import MAX_DECOMPRESSED_BYTES
from core.errors import UserInputError

EMBEDDINGS_SUFFIXES = (".npz", ".parquet")
MIN_DIMENSIONS = 2
MAX_DIMENSIONS = 8192
MAX_VECTOR_BYTES = MAX_DECOMPRESSED_BYTES  # an npz's arrays, and the vectors of a collection held in memory
BATCH_ROWS = 65_536
LIST_COLUMN = "embedding"


class EmbeddingFile:
    """One embeddings file: ``ids()`` (M,) str in file order, ``dimensions`` (d), and ``batches()``
    yielding (first row, (b, d) float32 vectors), each checked. Opening it checks its layout."""

    def __init__(self, path: Path):
        self.path, self.name = path, path.name
        suffix = path.suffix.lower()
        if suffix == ".npz":
            self._open_npz()
        elif suffix == ".parquet":
            self._open_parquet()
        else:
            raise UserInputError(f"'{self.name}' is not an embeddings file: use an .npz (ids, embeddings) or a "
                                 ".parquet (id and numeric columns, or id and a list column 'embedding')")
        self._check_dimensions()

    # --- npz: small enough to hold (its arrays' size is checked from their headers first) ---------

    def _open_npz(self):
        import zipfile

        from core.data.npz import _read_npz_arrays, npy_header

        try:
            with zipfile.ZipFile(self.path) as archive:
                members = set(archive.namelist())
                for key in ("ids", "embeddings"):
                    if f"{key}.npy" not in members:
                        raise UserInputError(f"'{self.name}' has no '{key}' array: an embeddings .npz holds 'ids' "
                                             "(N strings) and 'embeddings' (N x d numbers)")
                with archive.open("embeddings.npy") as member:
                    shape, dtype = _header_or_object(npy_header, member, self.name)
        except zipfile.BadZipFile as error:
            raise UserInputError(f"'{self.name}' is not a readable .npz file: it is corrupt or truncated") from error
        if dtype is None:
            raise UserInputError(f"'{self.name}': 'embeddings' is not one N x d array of numbers (vectors of "
                                 "different lengths, or values that are not numbers)")
        if dtype.kind not in "biuf":
            raise UserInputError(f"'{self.name}': 'embeddings' holds {dtype} values, not numbers")
        if len(shape) != 2:
            raise UserInputError(f"'{self.name}': 'embeddings' must be N x d (one vector per row), got shape {shape}")
        arrays = _read_npz_arrays(self.path, MAX_VECTOR_BYTES)
        ids = np.asarray(arrays["ids"])
        if ids.ndim != 1 or ids.dtype.kind not in "USiu":
            raise UserInputError(f"'{self.name}': 'ids' must be N strings (or whole numbers), got {ids.dtype} "
                                 f"of shape {ids.shape}")
        if len(ids) != shape[0]:
            raise UserInputError(f"'{self.name}' has {len(ids):,} ids but {shape[0]:,} vectors")
        self._ids, self._values, self.dimensions = ids.astype(str), arrays["embeddings"], int(shape[1])

    # --- parquet: read in row batches -----------------------------------------------------------

    def _open_parquet(self):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._parquet = pq.ParquetFile(self.path)
            schema = self._parquet.schema_arrow
        except (OSError, pa.ArrowException) as error:
            raise UserInputError(f"'{self.name}' is not a readable .parquet file ({type(error).__name__})") from error
        self._values = None
        if "id" not in schema.names:
            raise UserInputError(f"'{self.name}' has no 'id' column (columns: {', '.join(schema.names[:6])})")
        others = [field for field in schema if field.name != "id"]
        list_type = schema.field(LIST_COLUMN).type if LIST_COLUMN in schema.names else None
        if list_type is not None and (pa.types.is_list(list_type) or pa.types.is_large_list(list_type)
                                      or pa.types.is_fixed_size_list(list_type)):
            value_type = list_type.value_type
            if not _numeric(pa, value_type):
                raise UserInputError(f"'{self.name}': column '{LIST_COLUMN}' holds {_kind(pa, value_type)}, not numbers")
            self._columns, self.dimensions = [LIST_COLUMN], None
        else:
            bad = [field for field in others if not _numeric(pa, field.type)]
            if bad:
                raise UserInputError(f"'{self.name}': column '{bad[0].name}' holds {_kind(pa, bad[0].type)}, not numbers "
                                     f"(use an id column and numeric columns, or a list column '{LIST_COLUMN}')")
            self._columns, self.dimensions = [field.name for field in others], len(others)
        if self.dimensions is None:  # a list column: its length, from the first row
            first = next(self._parquet.iter_batches(batch_size=1, columns=self._columns), None)
            self.dimensions = len(first.column(0)[0]) if first is not None and len(first) and \
                first.column(0)[0].is_valid else 0

    def _check_dimensions(self):
        if self.dimensions < MIN_DIMENSIONS:
            raise UserInputError(f"'{self.name}' has vectors of {self.dimensions} number(s); at least "
                                 f"{MIN_DIMENSIONS} are needed")
        if self.dimensions > MAX_DIMENSIONS:
            raise UserInputError(f"'{self.name}' has vectors of {self.dimensions:,} numbers; the limit is "
                                 f"{MAX_DIMENSIONS:,}")

    def ids(self) -> np.ndarray:
        """(M,) str: every vector's id, in file order (a Parquet file's id column read in batches)."""
        if self._values is not None:
            return self._ids
        parts = [batch.column(0).to_numpy(zero_copy_only=False).astype(str)
                 for batch in self._parquet_batches(["id"])]
        return np.concatenate(parts) if parts else np.zeros(0, str)

    def _parquet_batches(self, columns: list[str]):
        """The Parquet file's row batches of ``columns``; a file corrupt in the middle is one line."""
        import pyarrow as pa

        try:
            yield from self._parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns)
        except (OSError, pa.ArrowException) as error:
            raise UserInputError(f"'{self.name}' is not a readable .parquet file: it is corrupt or truncated "
                                 f"({type(error).__name__})") from error

    def batches(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, (b, d) float32 vectors) in file order, each checked: one length, finite."""
        if self._values is not None:
            for start in range(0, len(self._values), BATCH_ROWS):
                yield start, self._checked(np.asarray(self._values[start:start + BATCH_ROWS], np.float32), start)
            return
        start = 0
        for batch in self._parquet_batches(self._columns):
            yield start, self._checked(self._batch_values(batch, start), start)
            start += len(batch)

    def _batch_values(self, batch, start: int) -> np.ndarray:
        import pyarrow.compute as pc

        if self._columns != [LIST_COLUMN]:
            if any(column.null_count for column in batch.columns):
                raise UserInputError(f"'{self.name}' has missing values (near row {start + 1:,}): every vector "
                                     "needs all its numbers")
            return np.column_stack([column.to_numpy(zero_copy_only=False).astype(np.float32)
                                    for column in batch.columns])
        column = batch.column(0)
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        wrong = np.flatnonzero(~(lengths == self.dimensions) | np.isnan(lengths.astype(np.float64)))
        if len(wrong):
            raise UserInputError(f"'{self.name}' has vectors of different lengths: row {start + wrong[0] + 1:,} has "
                                 f"{_length_text(lengths[wrong[0]])}, the first row {self.dimensions:,}")
        values = pc.list_flatten(column)
        if values.null_count:
            raise UserInputError(f"'{self.name}' has missing values (near row {start + 1:,}): every vector needs "
                                 "all its numbers")
        return values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(batch), self.dimensions)

    def _checked(self, vectors: np.ndarray, start: int) -> np.ndarray:
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            row = start + int(np.flatnonzero(~finite)[0])
            raise UserInputError(f"'{self.name}' has NaN or infinite values (the first in row {row + 1:,}): "
                                 "every number must be finite")
        return vectors

    def digest(self) -> str:
        """sha256 of the file's bytes, read in blocks."""
        digest = hashlib.sha256()
        with self.path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def _header_or_object(npy_header, member, name):
    """(shape, dtype) of an npy member, dtype None for an object array (refused, never unpickled)."""
    try:
        return npy_header(member, name, "embeddings")
    except UserInputError as error:
        if "object array" in str(error):
            return (), None
        raise


def _numeric(pa, value_type) -> bool:
    return pa.types.is_integer(value_type) or pa.types.is_floating(value_type) or pa.types.is_boolean(value_type)


def _kind(pa, value_type) -> str:
    text = pa.types.is_string(value_type) or pa.types.is_large_string(value_type)
    return "text" if text else f"{value_type} values"


def _length_text(length) -> str:
    return "no vector" if length is None or np.isnan(float(length)) else f"{int(length):,} numbers"


def file_rows(image_ids: np.ndarray, file_ids: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """(rows, extra): for each of the N images its row in the file (N,) int64, and how many of the
    file's vectors match no image. UserInputError for duplicate ids, or images without a vector."""
    import pandas as pd

    index = pd.Index(file_ids)
    if index.has_duplicates:
        repeated = index[index.duplicated()].unique()
        raise UserInputError(f"'{name}' has duplicate ids: {len(repeated):,} ids appear more than once, the first "
                             f"'{repeated[0]}'; give each image one vector")
    rows = index.get_indexer(pd.Index(image_ids)).astype(np.int64)
    missing = np.flatnonzero(rows < 0)
    if len(missing) == len(image_ids):
        raise UserInputError(f"none of the {len(file_ids):,} ids in '{name}' match an image (its first id is "
                             f"'{file_ids[0] if len(file_ids) else ''}', the images' first is '{image_ids[0]}'): ids "
                             "are the paths inside the zip or folder, <shard>:<row> for shards, the index for an array")
    if len(missing):
        raise UserInputError(f"{len(missing):,} of {len(image_ids):,} images have no vector in '{name}', the first "
                             f"'{image_ids[missing[0]]}'; every image needs one")
    return rows, len(file_ids) - len(image_ids)


def _gather(embedding_file: EmbeddingFile, rows: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (N, d) with the file's vectors in image order (``rows``: each image's file row),
    batch by batch."""
    position_of_row = np.full(len(rows) and int(rows.max()) + 1, -1, np.int64)
    position_of_row[rows] = np.arange(len(rows))
    for start, vectors in embedding_file.batches():
        positions = position_of_row[start:start + len(vectors)]
        matched = positions >= 0
        out[positions[matched]] = vectors[:len(positions)][matched]


def attach_embeddings(source, spec: str | Path, aligned_dir: Path | None = None):
    """``source`` (an ImageSet, or a folder read in batches) with each image's vector from the
    embeddings file at ``spec``: an ImageSet with ``vectors``, or an :class:`EmbeddedSource`
    reading them by positions from an aligned copy in ``aligned_dir`` (default: the cache folder)."""
    path = Path(str(spec).strip()).expanduser()
    if not path.is_file():
        raise UserInputError(f"no such embeddings file: '{spec}'")
    embedding_file = EmbeddingFile(path)
    rows, extra = file_rows(np.asarray(source.ids), embedding_file.ids(), embedding_file.name)
    n_bytes = len(rows) * embedding_file.dimensions * 4
    on_disk = getattr(source, "on_disk", False)
    if not on_disk and n_bytes > MAX_VECTOR_BYTES:
        raise UserInputError(f"the vectors of '{embedding_file.name}' would take {n_bytes / 2**20:,.0f} MiB; the "
                             f"limit for images held in memory is {MAX_VECTOR_BYTES / 2**20:,.0f} MiB")
    info = Embeddings(embedding_file.name, embedding_file.dimensions, extra, embedding_file.digest())
    if not on_disk:
        vectors = np.empty((len(rows), embedding_file.dimensions), np.float32)
        _gather(embedding_file, rows, vectors)
        return dataclasses.replace(source, vectors=vectors, embeddings=info)
    return EmbeddedSource(source, _aligned_copy(embedding_file, rows, info, source, aligned_dir), info)


def _aligned_copy(embedding_file: EmbeddingFile, rows: np.ndarray, info: Embeddings, source,
                  aligned_dir: Path | None) -> str:
    """The path of a float32 (N, d) .npy of the vectors in image order, written once per file and
    collection (kept by their digests, written to a temporary file and renamed)."""
    from core import settings
    from core.files import write_atomically

    folder = Path(aligned_dir) if aligned_dir is not None else settings.cache_dir() / "embeddings"
    key = hashlib.sha256(f"{info.digest}-{source.fingerprint()}".encode()).hexdigest()[:20]
    path = folder / f"{key}.npy"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)

        def write(temporary):
            out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32,
                                            shape=(len(rows), embedding_file.dimensions))
            _gather(embedding_file, rows, out)
            out.flush()
            del out

        write_atomically(path, write, suffix=".npy")
    return str(path)


class EmbeddedSource:
    """A folder source (``core.data.folders``) whose :meth:`read` adds each image's vector, read by
    positions from an aligned (N, d) float32 .npy (memory-mapped: a chunk reads only its rows).
    Everything else is the folder's. Pickles small (Dask workers open the .npy themselves)."""

    on_disk = True

    def __init__(self, source, aligned_path: str, embeddings: Embeddings):
        self.source, self.aligned_path, self.embeddings = source, aligned_path, embeddings
        for name in ("name", "labels", "label_names", "anomaly_flags", "origin"):
            setattr(self, name, getattr(source, name))

    def __len__(self) -> int:
        return len(self.source)

    @property
    def image_shape(self):
        return self.source.image_shape

    @property
    def ids(self) -> np.ndarray:
        return self.source.ids

    def read(self, positions) -> ImageSet:
        positions = np.asarray(positions, dtype=np.int64)
        vectors = np.load(self.aligned_path, mmap_mode="r")
        return dataclasses.replace(self.source.read(positions), vectors=np.asarray(vectors[positions], np.float32),
                                   embeddings=self.embeddings)

    def label_text(self):
        return self.source.label_text()

    def label_values(self):
        return self.source.label_values()

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.source.fingerprint()}-{self.embeddings.digest}".encode()).hexdigest()
