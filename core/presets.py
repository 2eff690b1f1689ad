"""Autoencoder designs with their training recipes: the ``seed`` and ``default`` presets.

Kept apart from :mod:`core.model` so that the app's sidebar can list them without importing
scikit-learn (about 2 s on 2 cores) before its first paint. The builders import Keras only when
they are called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import UserInputError

MAX_EPOCHS = 1000
MAX_SCALED_EPOCHS = 300
SMALL_DATA_MIN_BATCH = 32


@dataclass(frozen=True)
class Preset:
    """A network design with its training recipe.

    ``build(image_shape, latent_dim)`` returns (encoder, decoder) Keras models: the encoder maps
    (H, W, C) images to a latent tensor, the decoder maps that tensor back to (H, W, C).
    ``min_steps``: when the epochs are left to the preset, small datasets get more epochs so that
    training takes at least this many gradient steps. ``implementations``: when the builder can build
    the network in several forms (the seed network), ``core.implementation`` picks the fastest on
    this machine by measurement; the builder then takes ``shifted=``.
    """

    name: str
    description: str
    build: Callable
    loss: str
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    min_steps: int = 0
    implementations: bool = False


def _padding(image_shape, factor):
    height, width = image_shape[:2]
    return (-height) % factor, (-width) % factor


def _build_seed(image_shape, latent_dim=None, shifted=True):
    """The 2018 tutorial's network: 28x28x1 -> 7x7x2 latent (98 numbers) -> 28x28x1.

    With ``shifted`` its convolutions and poolings are :mod:`core.layers`' subclasses of Keras' own,
    with the same weights and outputs, computed as matrix products and shifted slices (faster on
    many CPUs; ``core.implementation`` measures which is faster on this one); else Keras' own.
    """
    from keras import Input, Model, layers

    from core.layers import BlockMaxPooling2D, ShiftConv2D

    if not shifted:
        ShiftConv2D, BlockMaxPooling2D = layers.Conv2D, layers.MaxPooling2D  # noqa: N806

    pad_h, pad_w = _padding(image_shape, 4)
    channels = image_shape[2]
    inputs = Input(shape=image_shape)
    x = layers.ZeroPadding2D(((0, pad_h), (0, pad_w)))(inputs)
    x = ShiftConv2D(16, (3, 3), activation="relu", padding="same")(x)
    x = BlockMaxPooling2D((2, 2), padding="same")(x)
    x = ShiftConv2D(2, (3, 3), activation="relu", padding="same")(x)
    latent = BlockMaxPooling2D((2, 2), padding="same")(x)
    encoder = Model(inputs, latent, name="encoder")

    latent_input = Input(shape=latent.shape[1:])
    x = ShiftConv2D(2, (3, 3), activation="relu", padding="same")(latent_input)
    x = layers.UpSampling2D((2, 2))(x)
    x = ShiftConv2D(16, (3, 3), activation="relu", padding="same")(x)
    x = layers.UpSampling2D((2, 2))(x)
    x = ShiftConv2D(channels, (3, 3), activation="sigmoid", padding="same")(x)
    outputs = layers.Cropping2D(((0, pad_h), (0, pad_w)))(x)
    decoder = Model(latent_input, outputs, name="decoder")
    return encoder, decoder


def _build_default(image_shape, latent_dim=10):
    """A dense autoencoder: flattened pixels -> 256 -> 128 -> ``latent_dim`` numbers, mirrored back.

    Fully connected layers train several times faster per image than convolutions on a CPU and
    give a latent whose neighbourhoods cluster well in a UMAP manifold (the N2D recipe).
    """
    from keras import Input, Model, layers

    n_pixels = int(np.prod(image_shape))
    inputs = Input(shape=image_shape)
    x = layers.Flatten()(inputs)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    latent = layers.Dense(latent_dim, name="latent")(x)
    encoder = Model(inputs, latent, name="encoder")

    latent_input = Input(shape=(latent_dim,))
    x = layers.Dense(128, activation="relu")(latent_input)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(n_pixels, activation="sigmoid")(x)
    outputs = layers.Reshape(image_shape)(x)
    decoder = Model(latent_input, outputs, name="decoder")
    return encoder, decoder


PRESETS = {
    "seed": Preset(
        name="seed",
        description="The 2018 Keras tutorial's network: Conv 16, pool, Conv 2, pool; Adadelta, 3 epochs at batch 32",
        build=_build_seed,
        loss="binary_crossentropy",
        optimizer="adadelta",
        learning_rate=1.0,
        epochs=3,
        batch_size=32,
        implementations=True,
    ),
    "default": Preset(
        name="default",
        description="Dense 256-128 encoder with a 10-number bottleneck, mirrored; Adam, 8 epochs at batch 256",
        build=_build_default,
        loss="binary_crossentropy",
        optimizer="adam",
        learning_rate=2e-3,
        epochs=8,
        batch_size=256,
        min_steps=1500,
    ),
}


@dataclass(frozen=True)
class TrainingPlan:
    """How a preset trains on a number of images: ``epochs``, ``batch_size`` (images per step) and
    ``n_validation`` (images held out for val_loss)."""

    epochs: int
    batch_size: int
    n_validation: int


def preset_named(name: str) -> Preset:
    """The preset called ``name``; UserInputError for an unknown one."""
    if name not in PRESETS:
        raise UserInputError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def training_plan(preset: str, epochs=None, batch_size=None, n_images: int = 0,
                  validation_fraction: float = 0.1) -> TrainingPlan:
    """The epochs, batch size and validation images a fit of ``preset`` on ``n_images`` uses.

    ``epochs`` and ``batch_size`` of None are the preset's. For a preset with ``min_steps``, left
    to itself on a small dataset, batches shrink (down to 32, about 30 steps an epoch) and the
    epochs rise to reach ``min_steps`` gradient steps (at most ``MAX_SCALED_EPOCHS``): small datasets
    reach enough steps in fewer passes, i.e. faster. Raises UserInputError for settings that
    cannot work; this is the one place they are checked.
    """
    recipe = preset_named(preset)
    if n_images < 2:
        raise UserInputError(f"an autoencoder needs at least 2 images to train, got {n_images}")
    if not 0 <= validation_fraction < 0.9:
        raise UserInputError(f"validation fraction must be in [0, 0.9), got {validation_fraction}")
    n_validation = 0
    if validation_fraction > 0:
        n_validation = min(max(int(round(n_images * validation_fraction)), 1), n_images - 1)
    n_train = n_images - n_validation
    if batch_size is None:
        batch_size = recipe.batch_size
        if recipe.min_steps:
            batch_size = int(min(recipe.batch_size, max(SMALL_DATA_MIN_BATCH, n_train // 30)))
    if not float(batch_size).is_integer() or batch_size < 1:
        raise UserInputError(f"batch size must be a whole number of at least 1, got {batch_size}")
    batch_size = int(min(batch_size, n_train))
    if epochs is None:
        epochs = recipe.epochs
        if recipe.min_steps:
            steps_per_epoch = -(-n_train // batch_size)
            epochs = max(epochs, min(MAX_SCALED_EPOCHS, -(-recipe.min_steps // steps_per_epoch)))
    if not float(epochs).is_integer() or not 1 <= epochs <= MAX_EPOCHS:
        raise UserInputError(f"epochs must be a whole number from 1 to {MAX_EPOCHS}, got {epochs}")
    return TrainingPlan(epochs=int(epochs), batch_size=batch_size, n_validation=n_validation)
