"""Copies and look-alikes: exact and near duplicates in a collection, and images like a given one.

- ``digests``: a digest of each image's decoded pixels at its own resolution (exact copies);
- ``thumbnails``: small colour thumbnails, their crop variants, and the appearance vectors of a run;
- ``alignment``: the near-copy distance between two images (crop-tolerant thumbnail distance);
- ``duplicates``: every exact and near copy of a collection, in groups, without a pass over all pairs;
- ``search``: the one search for images like a given one (near copies first, then the nearest in a
  representation), for the up-close view, an uploaded image and ``python -m core similar``.

This package's ``__init__`` imports nothing: ``core.data`` takes its digests from ``digests``,
while ``search`` reads images through ``core.data``.
"""
