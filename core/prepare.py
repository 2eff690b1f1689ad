"""``core.prepare.prepare``: what a saved model's images go through first (``core.model.prepare``).

Kept here because a saved model's README section points users to it.
"""

from core.model.prepare import PREPARATIONS, average_down, prepare, standardize, straighten

__all__ = ["PREPARATIONS", "average_down", "prepare", "standardize", "straighten"]
