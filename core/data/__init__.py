"""Image sources -> one :class:`ImageSet` (or, for folders read in batches, an :class:`ImageSource`).

Conversion happens here, at the edge: nothing after this package sees uint8, channels-first
arrays or file names. Files are untrusted: npz files load with ``allow_pickle=False``, zip members
are read in memory (never extracted) and checked for path traversal and decompressed size, and
images are decoded by Pillow under a pixel limit.

- ``images``: the ImageSet and the ImageSource protocol; ``limits``: the limits every reader keeps;
- ``arrays``: numbers -> images; ``decode``: image files -> pixels (the mixed-image rule);
- ``npz``, ``zips``, ``folders`` (shards and image files read lazily), ``builtin``: one reader per kind;
- ``load``: a spec string -> image sets; ``originals``: an image's own file.
"""

from core.data.builtin import BUILTIN_SOURCES, load_digits
from core.data.folders import ImageFolder, ShardFolder, open_folder
from core.data.images import ImageSet, ImageSource, concatenate
from core.data.limits import MAX_DECOMPRESSED_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGES, MAX_SIDE, MIN_IMAGES, MIN_SIDE
from core.data.load import check_number_of_images, load_image_set, load_splits, load_train_and_analysis_sets
from core.data.npz import load_npz
from core.data.originals import original_image
from core.data.zips import load_zip

__all__ = [
    "BUILTIN_SOURCES", "MAX_DECOMPRESSED_BYTES", "MAX_IMAGES", "MAX_IMAGE_PIXELS", "MAX_SIDE", "MIN_IMAGES", "MIN_SIDE",
    "ImageFolder", "ImageSet", "ImageSource", "ShardFolder", "check_number_of_images", "concatenate", "load_digits",
    "load_image_set", "load_npz", "load_splits", "load_train_and_analysis_sets", "load_zip", "open_folder",
    "original_image",
]
