"""The methods a run analyses the latent with, as small estimators in one registry.

Every estimator has scikit-learn's shape: hyper-parameters in ``__init__``, learning in ``fit(X)``,
learned state in attributes with a trailing underscore. Clusterers ``predict(X)`` cluster labels
and keep ``labels_``; scorers follow PyOD (``decision_function(X)``, higher = more anomalous,
``decision_scores_``, ``threshold_``); embeddings ``transform(X)`` new rows and keep ``embedding_``.
``fit`` sees a sample; the rest works row by row, so results never depend on which rows share a
batch: that is what lets a run fit on a sample and apply to any number of images anywhere.

- ``registry``: ``CLUSTERERS`` and ``SCORERS`` by name, and which one stands in for which;
- ``clusterers``, ``scorers``, ``embeddings`` (the 2-D map and the clustering manifold);
- ``neighbours`` (exact neighbour searches), ``layout`` (UMAP), ``checks`` (k and contamination).
"""

from core.methods.embeddings import NeighbourEmbedding, manifold_embedding, map_embedding
from core.methods.registry import (
    CLUSTERERS,
    CONSENSUS,
    CONSENSUS_SELF_TRAINED,
    DEFAULT_SCORE,
    SCORERS,
    SELF_TRAINED,
    STAND_IN_REASON,
    Entry,
    MethodSettings,
    stack_inputs,
    stand_in,
    stand_in_reason,
    stand_ins,
    without_training,
)

__all__ = ["CLUSTERERS", "CONSENSUS", "CONSENSUS_SELF_TRAINED", "DEFAULT_SCORE", "SCORERS", "SELF_TRAINED", "STAND_IN_REASON", "Entry", "MethodSettings",
           "NeighbourEmbedding", "manifold_embedding", "map_embedding", "stack_inputs", "stand_in", "stand_in_reason", "stand_ins",
           "without_training"]
