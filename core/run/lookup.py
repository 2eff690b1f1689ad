"""Images like a given one in a stored run: ``core.similar.search`` fed from the run's files.

:class:`RunSearch` answers for an image of the collection (its position) and for any image file
(an upload, ``python -m core similar --image FILE``): the latter is converted to the collection's
image shape as its own files were, encoded with the run's model (the same preparation as every
image of the run), and placed on the run's 2-D map as the apply stage places every image
(:func:`place_on_map`). Near copies are decided from the run's duplicates.npz and the images the
search reads; the rest are ranked in ``representation`` (the run's latent vectors unless given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import UserInputError
from core.methods.embeddings import map_embedding
from core.methods.neighbours import MAX_REFERENCE, reference_sample
from core.run.results import RunResult
from core.similar.search import Query, images_like, query_image


def place_on_map(result: RunResult, latent: np.ndarray) -> np.ndarray:
    """float32 (n, 2): where the run's map puts (n, d) new latent rows, as its apply stage does (the
    fuzzy-weighted mean place of their nearest fit-sample rows, found among the same reference)."""
    embedding = map_embedding(result.config.seed)
    kept = reference_sample(len(result.sample), result.config.seed, MAX_REFERENCE)
    rows = result.sample[kept]
    embedding.reference_ = np.ascontiguousarray(result.latent[rows], dtype=np.float32)
    embedding.reference_embedding_ = result.table[["map_x", "map_y"]].to_numpy(np.float32)[rows]
    return embedding.transform(np.asarray(latent, dtype=np.float32))


@dataclass
class FoundForFile:
    """What :meth:`RunSearch.like_file` finds: ``table`` (rank, index, id, distance, near_copy),
    the file's ``latent`` (d,) and its ``place`` (2,) on the map."""

    table: pd.DataFrame
    latent: np.ndarray
    place: np.ndarray


@dataclass
class RunSearch:
    """The one search over a stored run.

    Attributes: ``result`` the stored run (with its duplicates); ``read`` sorted positions -> the
    analysed images there, float (k, H, W, C); ``model`` a callable giving the run's fitted
    autoencoder (called only for files); ``representation`` (N, d) what the images that are not
    near copies are ranked by (None: the run's latent vectors), with ``encode`` (float (n, H, W, C)
    images -> (n, d)) giving a file's row in it (None with a representation: a file's rest is
    ranked by appearance).
    """

    result: RunResult
    read: Callable[[np.ndarray], np.ndarray]
    model: Callable[[], object]
    representation: np.ndarray | None = None
    encode: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self):
        if self.result.duplicates is None or len(self.result.duplicates) != len(self.result.table):
            raise UserInputError("this run holds no duplicates.npz to search; run it again")

    @property
    def vectors(self) -> np.ndarray:
        return self.result.latent if self.representation is None else self.representation

    def like_index(self, index: int, top: int = 10, among: np.ndarray | None = None) -> pd.DataFrame:
        """The images most like image ``index`` of the collection (``among``: see ``images_like``)."""
        duplicates = self.result.duplicates
        image = self.read(np.array([index]))[0]
        query = Query(image=image, digest=duplicates.digest[index].tobytes(), vector=self.vectors[index], index=index)
        return self._named(images_like(query, duplicates, self.read, self.vectors, top, among))

    def like_file(self, data: bytes, name: str, top: int = 10) -> FoundForFile:
        """The images most like an image file's bytes; UserInputError (one line) for a file that is
        not an image this run can take."""
        image, digest = query_image(data, name, tuple(self.result.metrics["data"]["image_shape"]))
        latent = self.model().transform(image[None])
        vector = latent[0] if self.representation is None else \
            None if self.encode is None else self.encode(image[None])[0]
        found = images_like(Query(image=image, digest=digest, vector=vector), self.result.duplicates, self.read,
                            self.vectors, top)
        return FoundForFile(self._named(found), latent[0], place_on_map(self.result, latent)[0])

    def _named(self, found: pd.DataFrame) -> pd.DataFrame:
        return found.assign(id=self.result.table["id"].to_numpy()[found["index"].to_numpy()].astype(str))
