"""Autoencoder designs with their training recipes: the ``seed`` and ``default`` presets.

The ``default`` preset chooses its design from the data (:func:`default_design`): a user never has
to know which network to pick. Grey images are straightened before the network (``core.model.prepare``)
and train a dense network sized by the number of images; colour photos are standardised image by
image (their brightness and contrast say little about what they show) and halved in size.
The ``seed`` preset is the 2018 Keras tutorial's network, as it was.

Kept apart from :mod:`core.model` so that the app's sidebar can list them without importing
scikit-learn (seconds) before its first paint. The builders import Keras only when
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

    ``build(image_shape, latent_dim, **options)`` returns (encoder, decoder) Keras models: the encoder
    maps (H, W, C) images to a latent tensor, the decoder maps that tensor back to (H, W, C).
    ``min_steps``: when the epochs are left to the preset, small datasets get more epochs so that
    training takes at least this many gradient steps. ``design``: a function of (image shape, number
    of training images) giving the :class:`Design` that overrides these for that data (the default
    preset's). ``implementations``: when the builder can build
    the network in several forms (the seed network), ``core.model.implementation`` picks the fastest on
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
    design: Callable | None = None

    @property
    def adapts_to_data(self) -> bool:
        """True when the epochs left to the preset depend on the data (``min_steps`` or a design's)."""
        return bool(self.min_steps or self.design)


@dataclass(frozen=True)
class Design:
    """The network and recipe the default preset chooses for one kind of data.

    ``widths``: the dense encoder's layers (mirrored in the decoder). ``prepare``: what each image
    goes through first ("straighten", "standardize" or "none"; ``core.model.prepare``); ``downsample``:
    the factor images are averaged down by. ``min_steps``: gradient steps the training reaches at
    least. ``trim``: when set, the training drops the images it reconstructs worst (above this
    quantile of their error) after the first epochs, so that rare odd images are not learned and
    stay easy to find. ``reason``: the choice in words, for the pages and metrics.json.
    ``representation``: what the network learns from: "pixels" (prepared as above), "photo features"
    (``core.model.representation.PhotoFeatures``: what the photos' patches show, learned from them;
    ``prepare`` and ``downsample`` then say how the pages draw the photos) or "vectors" (rows a
    user brings, scaled); ``inputs`` is the number of values the representation gives per image.
    ``latent_dim``: the bottleneck's size.
    """

    widths: tuple[int, ...]
    prepare: str
    downsample: int
    min_steps: int
    trim: float | None
    reason: str
    representation: str = "pixels"
    inputs: int | None = None
    latent_dim: int = 10

    def describe(self, image_shape) -> str:
        if self.representation != "pixels":
            learned = {"photo features": f"{self.inputs} content features learned from the photos' patches",
                       "vectors": f"the {self.inputs} numbers of each vector, standardised"}[self.representation]
            layers = "-".join(str(n) for n in (self.inputs, *self.widths, self.latent_dim))
            return f"dense {layers} on {learned} ({self.reason})"
        height, width, channels = image_shape
        size = f"{height // self.downsample}x{width // self.downsample}" if self.downsample > 1 else ""
        steps = {"straighten": "straightened", "standardize": "standardised image by image", "none": ""}
        first = ", ".join(part for part in (steps[self.prepare], f"halved to {size}" if size else "") if part)
        layers = "-".join(str(n) for n in (int(np.prod(image_shape)) // self.downsample**2, *self.widths,
                                           self.latent_dim))
        return f"dense {layers}" + (f" on images {first}" if first else "") + f" ({self.reason})"


LARGE_SET = 5_000  # training images from which grey images get the larger network


# What a page's "reconstruction" of an image is, by what the network learns from (Design.representation).
DRAWINGS = {
    "pixels": "the network's own reconstruction of the image as it sees it",
    "photo features": "the network rebuilds the photo's content features, not its pixels: a second decoder draws "
                      "the image's latent vector as pixels, so the drawing and the per-pixel error show what the "
                      "latent vector keeps of the photo",
    "vectors": "the network rebuilds your vectors, not pixels, so there is no picture of its reconstruction; the "
               "reconstruction error is the vector's",
}

PHOTO_FEATURES = 100  # the photo features' count (core.model.representation.PhotoFeatures' n_components)
FEATURES_MIN_SIDE = 16  # photos smaller than this keep their standardised pixels


def default_design(image_shape, n_images: int) -> Design:
    """The default preset's design for (H, W, C) images, or (d,) vectors, and ``n_images`` training
    images: straightened grey images; colour photos' content features (standardised pixels for
    photos under ``FEATURES_MIN_SIDE`` pixels a side); vectors a user brings, scaled."""
    if len(image_shape) == 1:
        return Design((500, 500, 2000), "none", 1, 1500, None, "vectors you brought", representation="vectors",
                      inputs=int(image_shape[0]))
    height, width, channels = image_shape
    if channels == 3 and min(height, width) >= FEATURES_MIN_SIDE:
        return Design((500, 500, 2000), "standardize", 2, 3000, None, "colour photos: what they show, not their "
                      "colours", representation="photo features", inputs=PHOTO_FEATURES, latent_dim=32)
    if channels == 1:
        if n_images >= LARGE_SET:
            return Design((500, 500, 2000), "straighten", 1, 900, 0.95,
                          f"grey images, {n_images:,} to train on")
        return Design((256, 256, 1000), "straighten", 1, 600, 0.95,
                      f"grey images, fewer than {LARGE_SET:,} to train on")
    return Design((500, 500, 2000), "standardize", 2 if min(height, width) >= 16 else 1, 3000, None,
                  "colour photos")


def _padding(image_shape, factor):
    height, width = image_shape[:2]
    return (-height) % factor, (-width) % factor


def _build_seed(image_shape, latent_dim=None, shifted=True):
    """The 2018 tutorial's network: 28x28x1 -> 7x7x2 latent (98 numbers) -> 28x28x1.

    With ``shifted`` its convolutions and poolings are :mod:`core.model.layers`' subclasses of Keras' own,
    with the same weights and outputs, computed as matrix products and shifted slices (faster on
    many CPUs; ``core.model.implementation`` measures which is faster on this one); else Keras' own.
    """
    from keras import Input, Model, layers

    from core.model.layers import BlockMaxPooling2D, ShiftConv2D

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


def _build_default(image_shape, latent_dim=10, widths=(500, 500, 2000), mean_image=None):
    """A dense autoencoder: flattened pixels -> ``widths`` -> ``latent_dim`` numbers, mirrored back.

    Fully connected layers train faster per image than convolutions on a CPU and give a latent whose neighbourhoods cluster well in a UMAP manifold (the N2D recipe). The output
    layer starts at ``mean_image`` (its biases are the mean pixels' logits), so training begins from
    the average image instead of a grey blur.
    """
    import keras
    from keras import Input, Model, layers

    n_pixels = int(np.prod(image_shape))
    inputs = Input(shape=image_shape)
    x = layers.Flatten()(inputs)
    for units in widths:
        x = layers.Dense(units, activation="relu")(x)
    latent = layers.Dense(latent_dim, name="latent")(x)
    encoder = Model(inputs, latent, name="encoder")

    latent_input = Input(shape=(latent_dim,))
    x = latent_input
    for units in reversed(widths):
        x = layers.Dense(units, activation="relu")(x)
    bias = "zeros"
    if mean_image is not None:
        mean = np.clip(np.asarray(mean_image, dtype=np.float64).reshape(-1), 1e-3, 1 - 1e-3)
        bias = keras.initializers.Constant(np.log(mean / (1 - mean)).astype(np.float32))
    x = layers.Dense(n_pixels, activation="sigmoid", bias_initializer=bias)(x)
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
        description="Chosen from the data: a dense network (500-500-2000, or 256-256-1000 under 5,000 grey "
                    "images) with a 10-number bottleneck, on straightened grey images; on colour photos, their "
                    "content features with a 32-number bottleneck; Adam, batch 128, 2 epochs or more to reach "
                    "600-3,000 steps",
        build=_build_default,
        loss="binary_crossentropy",
        optimizer="adam",
        learning_rate=1e-3,
        epochs=2,
        batch_size=128,
        design=default_design,
    ),
}


@dataclass(frozen=True)
class TrainingPlan:
    """How a preset trains on a number of images: ``epochs``, ``batch_size`` (images per step) and
    ``n_validation`` (images held out for val_loss)."""

    epochs: int
    batch_size: int
    n_validation: int


def design_for(preset: str, image_shape, n_images: int) -> Design | None:
    """The design the preset chooses for ``n_images`` training images of ``image_shape`` (H, W, C),
    or None for a preset with one fixed network."""
    recipe = preset_named(preset)
    return recipe.design(tuple(image_shape), n_images) if recipe.design else None


def preset_named(name: str) -> Preset:
    """The preset called ``name``; UserInputError for an unknown one."""
    if name not in PRESETS:
        raise UserInputError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def training_plan(preset: str, epochs=None, batch_size=None, n_images: int = 0,
                  validation_fraction: float = 0.1, image_shape=None) -> TrainingPlan:
    """The epochs, batch size and validation images a fit of ``preset`` on ``n_images`` uses.

    ``epochs`` and ``batch_size`` of None are the preset's. For a preset with ``min_steps``, left
    to itself on a small dataset, batches shrink (down to 32, about 30 steps an epoch) and the
    epochs rise to reach ``min_steps`` gradient steps (at most ``MAX_SCALED_EPOCHS``; the design's for
    ``image_shape``, when the preset chooses by the data): small datasets reach enough steps in fewer
    passes, i.e. faster. Raises UserInputError for settings that cannot work (``RunConfig.check``
    calls it before a run).
    """
    recipe = preset_named(preset)
    min_steps = recipe.min_steps
    design = design_for(preset, image_shape, n_images) if image_shape is not None else None
    if design is not None:
        min_steps = design.min_steps
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
        if min_steps:
            batch_size = int(min(recipe.batch_size, max(SMALL_DATA_MIN_BATCH, n_train // 30)))
    if not float(batch_size).is_integer() or batch_size < 1:
        raise UserInputError(f"batch size must be a whole number of at least 1, got {batch_size}")
    batch_size = int(min(batch_size, n_train))
    if epochs is None:
        epochs = recipe.epochs
        if min_steps:
            steps_per_epoch = -(-n_train // batch_size)
            epochs = max(epochs, min(MAX_SCALED_EPOCHS, -(-min_steps // steps_per_epoch)))
    if not float(epochs).is_integer() or not 1 <= epochs <= MAX_EPOCHS:
        raise UserInputError(f"epochs must be a whole number from 1 to {MAX_EPOCHS}, got {epochs}")
    return TrainingPlan(epochs=int(epochs), batch_size=batch_size, n_validation=n_validation)
