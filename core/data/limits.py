"""The limits a data source must keep: how many images, how large, how much a file may decompress to.

Documented in the README's limits table; every reader checks them before it decodes anything.
"""

from __future__ import annotations

from core.errors import UserInputError

MIN_IMAGES = 10


MAX_IMAGES = 200_000


MAX_SIDE = 64


MIN_SIDE = 4


MAX_IMAGE_PIXELS = 40_000_000


MAX_DECOMPRESSED_BYTES = 1 << 30



def check_image_count(n_images: int, name: str, limit: int | None = MAX_IMAGES) -> None:
    """Raise UserInputError when a source has too few images to analyse, or more than ``limit``
    (the cap of sources held in memory; folders, read in batches, have none)."""
    if n_images < MIN_IMAGES:
        raise UserInputError(f"{name} has {n_images} image(s); at least {MIN_IMAGES} are needed")
    if limit is not None and n_images > limit:
        raise UserInputError(f"{name} has {n_images:,} images; the limit for a single file is {limit:,}: use a "
                             "folder of .npz shards or of images, which is read in batches")

