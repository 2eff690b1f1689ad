"""The autoencoder and what it is built from.

- ``presets``: network designs and training recipes (no scikit-learn, no Keras: the sidebar lists
  them before the first paint);
- ``prepare``: what images go through before the network sees them (straightened, standardised);
- ``layers`` and ``implementation``: the seed network in the form that trains fastest on this CPU;
- ``batches``: predictions in batches; ``reconstruction``: per-image reconstruction errors;
- ``autoencoder``: :class:`Autoencoder`, a scikit-learn transformer (``ConvAutoencoder`` is its
  earlier name).

``Autoencoder`` is imported on first use (``from core.model import Autoencoder`` works): importing
this package, e.g. for its presets, does not import scikit-learn or TensorFlow.
"""


def __getattr__(name: str):
    if name in ("Autoencoder", "ConvAutoencoder"):
        from core.model.autoencoder import Autoencoder

        return Autoencoder
    raise AttributeError(f"module 'core.model' has no attribute '{name}'")
