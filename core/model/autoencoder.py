"""The autoencoder as a scikit-learn transformer: ``transform`` encodes, ``inverse_transform`` decodes.

:class:`Autoencoder` takes hyper-parameters in ``__init__`` and learns in ``fit``; its network and
training recipe come from a preset (``core/model/presets.py``). ``transform`` encodes images to an (N, d)
latent matrix and ``inverse_transform`` decodes it, so ``make_pipeline(Autoencoder(), KMeans(10))``
works. ``ConvAutoencoder`` is the same class under its earlier name.

Images are float32 (N, H, W, C) in [0, 1] (an :class:`~core.data.ImageSet` is accepted too). Any
H and W work: the seed network pads them up to a multiple of its downsampling factor and crops its
output back (layers of the saved model); the dense default network takes any size as it is.

Saved models hold stock Keras layers only, so ``keras.saving.load_model`` opens them where this
project is not installed. TensorFlow is imported only when a model is built or loaded.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from core import import_keras
from core.errors import UserInputError
from core.model.batches import PREDICT_BATCH_SIZE, PREDICT_CHUNK, predict_in_batches
from core.model.prepare import PREPARATIONS, prepare
from core.model.presets import PRESETS, TrainingPlan, design_for, preset_named, training_plan
from core.model.reconstruction import cross_entropy_error, squared_error

# Gradient steps per call into the compiled training function: fewer Python round trips per step,
# which dominate on small images where a step's arithmetic is short (docs/benchmarks.md, "Numbers behind the code").
STEPS_PER_EXECUTION = 32

# Keras and TensorFlow draw initial weights and shuffles from process-wide random state (Python's
# `random`, TensorFlow's global seed and op counter) that `keras.utils.set_random_seed` resets. Two
# fits in parallel threads (two app sessions) would interleave their draws and each get weights that
# depend on the other's timing; fits take turns instead, so a seed always gives the same model.
_FIT_LOCK = threading.Lock()


def as_images(X) -> np.ndarray:
    """An ImageSet or array -> float32 (N, H, W, C); a 3-D array gets one channel; a 2-D array is
    (N, d) vectors (a user's embeddings) and stays as it is."""
    images = getattr(X, "images", X)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim not in (2, 4):
        raise UserInputError(f"images must have shape (N, H, W, C) (or vectors (N, d)), got {images.shape}")
    return images


def _image_batches(images: np.ndarray, batch_size: int, seed: int):
    """An endless tf.data pipeline of (images, images) training batches from (N, H, W, C) images.

    The images are reshuffled (seeded) on every pass and cut into full batches that run on from one
    pass into the next: ``fit`` keeps one iterator for all epochs, and every batch has the same
    shape (XLA compiles a train function per shape). Batches are gathered by index from one copy of
    the images (the way Keras handles arrays), with less work per epoch than ``fit`` on arrays."""
    import tensorflow as tf

    batches = (tf.data.Dataset.range(len(images))
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
               .repeat().batch(batch_size, drop_remainder=True))
    everything = tf.data.Dataset.from_tensors(images).repeat()

    def gather(batch_indices, all_images):
        batch = tf.gather(all_images, batch_indices)
        return batch, batch

    return tf.data.Dataset.zip((batches, everything)).map(gather).prefetch(2)


def _validation_loss_callback(validation: np.ndarray, loss: str):
    """A Keras callback that puts "val_loss" into each epoch's logs: the mean ``loss`` per pixel
    over the held-out (N, H, W, C) images, computed by one compiled function per batch of
    ``PREDICT_BATCH_SIZE``. It replaces ``fit``'s own validation, whose fixed cost per epoch is a large
    share of the training time on small datasets (docs/benchmarks.md). Put it before the callbacks
    that read val_loss."""
    import keras
    import tensorflow as tf

    loss_function = keras.losses.get(loss)
    n_values = validation.shape[0] * int(np.prod(validation.shape[1:-1]))

    class ValidationLoss(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            model = self.model

            @tf.function(reduce_retracing=True)
            def summed_loss(images):
                return tf.reduce_sum(loss_function(images, model(images, training=False)))

            self.summed_loss = summed_loss

        def on_epoch_end(self, epoch, logs=None):
            total = sum(float(self.summed_loss(validation[start:start + PREDICT_BATCH_SIZE]))
                        for start in range(0, len(validation), PREDICT_BATCH_SIZE))
            if logs is not None:
                logs["val_loss"] = total / n_values

    return ValidationLoss()


# Automatic epochs end when val_loss has not improved by this share for this many epochs in a row.
EARLY_STOP_PATIENCE = 3
EARLY_STOP_MIN_IMPROVEMENT = 1e-4


def _stop_when_flat():
    """A new StopWhenFlat callback (its class is made here: Keras is imported on first use)."""
    import keras

    class StopWhenFlat(keras.callbacks.Callback):
        """Stops the training once val_loss has not fallen by ``EARLY_STOP_MIN_IMPROVEMENT`` (relative)
        for ``EARLY_STOP_PATIENCE`` epochs. Unlike Keras' EarlyStopping it keeps its state across the
        two ``fit`` calls of a trimmed training. Put it after the callback that computes val_loss."""

        def __init__(self):
            super().__init__()
            self.best, self.waited, self.stopped = np.inf, 0, False

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss")
            if loss is None:
                return
            if loss < self.best * (1 - EARLY_STOP_MIN_IMPROVEMENT):
                self.best, self.waited = loss, 0
            else:
                self.waited += 1
                self.stopped = self.waited >= EARLY_STOP_PATIENCE
                self.model.stop_training = self.stopped

    return StopWhenFlat()


class Autoencoder(TransformerMixin, BaseEstimator):
    """An autoencoder as a scikit-learn transformer; its network and recipe come from the preset.

    Parameters:
        preset: a name in ``PRESETS`` (``core/model/presets.py``): the network and how it trains.
        latent_dim: bottleneck size for presets that take one (the seed's is fixed by its design);
            None takes the design's (10).
        epochs: passes over the training images; None lets the preset choose (``training_plan``) and
            makes that a cap: the training stops early once val_loss stops improving. A number
            trains exactly that many epochs.
        batch_size: images per gradient step; None takes the preset's. Capped at the number of
            training images.
        validation_fraction: share of the images held out (after a seeded shuffle) for val_loss.
        seed: seeds weights, the shuffle and the split.
        verbose: Keras' fit verbosity.
        implementation: for presets built in several forms (the seed network): "keras",
            "shifted" or "shifted+xla"; None picks the fastest on this machine for the planned
            steps (``core.model.implementation``: measured once per machine).

    Attributes after ``fit``:
        model_: the Keras autoencoder (encoder then decoder).
        encoder_, decoder_: the two halves as Keras models.
        image_shape_: (H, W, C) of the training images.
        latent_shape_: shape of one latent tensor before flattening; ``n_latent_`` = its size.
        history_: {"loss": [...], "val_loss": [...]} per epoch (mean loss per pixel).
        stopped_early_: True when automatic epochs ended before their cap (val_loss stopped improving).
        implementation_: the form the network trained in ("keras" for presets with one form).
        design_: the :class:`~core.model.presets.Design` the preset chose for the data, or None.
        preparation_: (how, downsample factor) of the images' pixels as the network (or, with a
            representation, the pages) sees them (``core.model.prepare``).
        representation_: what the network learns from when it is not the pixels (photos' content
            features, a user's vectors scaled; ``core.model.representation``), or None.
        pixel_decoder_: with photo features, a second decoder that draws a latent vector as the
            photo's prepared pixels (:meth:`draw`), or None.
    """

    def __init__(self, preset="default", latent_dim=None, epochs=None, batch_size=None,
                 validation_fraction=0.1, seed=0, verbose=0, implementation=None):
        self.preset = preset
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.verbose = verbose
        self.implementation = implementation

    def plan(self, n_images: int, image_shape=None) -> TrainingPlan:
        """The epochs, batch size and validation images ``fit`` uses on ``n_images`` images of
        ``image_shape``; UserInputError if a setting cannot work."""
        if self.latent_dim is not None and (not float(self.latent_dim).is_integer() or self.latent_dim < 1):
            raise UserInputError(f"latent size must be a whole number of at least 1, got {self.latent_dim}")
        return training_plan(self.preset, self.epochs, self.batch_size, n_images, self.validation_fraction,
                             image_shape)

    def fit(self, X, y=None, callbacks=None):
        """Train on images X (N, H, W, C). ``y`` is ignored; ``callbacks`` are Keras callbacks."""
        keras = import_keras()

        images = as_images(X)
        plan = self.plan(len(images), images.shape[1:])
        with _FIT_LOCK:
            return self._fit(keras, images, plan, callbacks)

    def _fit(self, keras, images, plan: TrainingPlan, callbacks):
        recipe = preset_named(self.preset)
        keras.utils.set_random_seed(int(self.seed))
        self.image_shape_ = images.shape[1:]
        self.design_ = design_for(self.preset, self.image_shape_, len(images))
        self.preparation_ = (self.design_.prepare, self.design_.downsample) if self.design_ else ("none", 1)
        self.representation_ = self._fitted_representation(images)
        self.pixel_decoder_ = None
        pictures = images if self.representation_ is not None and len(self.image_shape_) == 3 else None
        images = self.prepare(images)
        order = np.random.default_rng(self.seed).permutation(len(images))
        n_validation, epochs, batch_size = plan.n_validation, plan.epochs, plan.batch_size
        train, validation = images[order[n_validation:]], images[order[:n_validation]]
        shape, images = images.shape[1:], None  # the split holds copies: free the prepared whole

        steps_per_epoch = -(-len(train) // batch_size)
        self.implementation_ = self._implementation(recipe, epochs * steps_per_epoch)
        options = {"shifted": self.implementation_ != "keras"} if recipe.implementations else {}
        if self.design_:
            options.update(widths=self.design_.widths, mean_image=train.mean(axis=0))
        latent_dim = self.latent_dim or (self.design_.latent_dim if self.design_ else 10)
        self.encoder_, self.decoder_ = recipe.build(shape, int(latent_dim), **options)
        self._assemble()
        optimizer = keras.optimizers.get({"class_name": recipe.optimizer,
                                          "config": {"learning_rate": recipe.learning_rate}})
        self.model_.compile(optimizer=optimizer, loss=recipe.loss, steps_per_execution=STEPS_PER_EXECUTION,
                            jit_compile=self.implementation_ == "shifted+xla")
        stopper = _stop_when_flat() if self.epochs is None and n_validation else None  # automatic epochs: a cap
        callbacks = ([_validation_loss_callback(validation, recipe.loss)] if n_validation else []) + (
            [stopper] if stopper else []) + list(callbacks or [])
        trim = self.design_.trim if self.design_ else None
        first = epochs if trim is None or epochs < 2 else max(1, min(epochs - 1, -(-3 * epochs // 10)))
        history = self._epochs(train, batch_size, 0, first, callbacks)
        if first < epochs and not (stopper and stopper.stopped):  # the rest without the images it draws worst
            errors = np.concatenate([cross_entropy_error(chunk, predict_in_batches(self.model_, chunk))
                                     for chunk in np.array_split(train, -(-len(train) // PREDICT_CHUNK))])
            kept = train[errors <= np.quantile(errors, trim)]
            later = self._epochs(kept, min(batch_size, len(kept)), first, epochs, callbacks, steps_per_epoch)
            history = {key: history.get(key, []) + later.get(key, []) for key in later}
        self.history_ = {key: [float(v) for v in values] for key, values in history.items()}
        self.stopped_early_ = bool(stopper and stopper.stopped)
        self.model_.jit_compile = False
        if pictures is not None:  # photo features: a second decoder learns to draw the photos from the latent
            from core.model.pixel_decoder import train_pixel_decoder

            self.pixel_decoder_ = train_pixel_decoder(self.transform(pictures), prepare(pictures, *self.preparation_),
                                                      seed=int(self.seed))  # predictions run once per batch size: not worth an XLA compile
        return self

    def _epochs(self, train, batch_size, first, last, callbacks, steps_per_epoch=None) -> dict:
        """Train epochs ``first``..``last`` - 1 on ``train``; returns their history."""
        history = self.model_.fit(
            _image_batches(train, batch_size, seed=int(self.seed) + first),
            initial_epoch=first,
            epochs=last,
            steps_per_epoch=steps_per_epoch or -(-len(train) // batch_size),
            shuffle=False,
            callbacks=callbacks,
            verbose=self.verbose,
        )
        return history.history

    def _implementation(self, recipe, steps: int) -> str:
        if not recipe.implementations:
            return "keras"
        if self.implementation is not None:
            from core.model.implementation import IMPLEMENTATIONS

            if self.implementation not in IMPLEMENTATIONS:
                raise UserInputError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}")
            return self.implementation
        from core.model.implementation import choose

        return choose(steps)

    def _assemble(self):
        import keras

        inputs = keras.Input(shape=self.encoder_.input_shape[1:])
        outputs = self.decoder_(self.encoder_(inputs))
        how, factor = self.preparation_
        suffix = "" if (how, factor) == ("none", 1) else f"__{how}_{factor}"  # read back by load()
        self.model_ = keras.Model(inputs, outputs, name=f"autoencoder_{self.preset}{suffix}")
        self.latent_shape_ = tuple(self.encoder_.output_shape[1:])
        self.n_latent_ = int(np.prod(self.latent_shape_))

    def _fitted_representation(self, images: np.ndarray):
        """The design's representation fitted on the training ``images``, or None for pixels."""
        kind = self.design_.representation if self.design_ else "pixels"
        if kind == "pixels":
            return None
        from core.model.representation import PhotoFeatures, VectorScaler

        if kind == "vectors":
            return VectorScaler().fit(images)
        return PhotoFeatures(n_components=self.design_.inputs, seed=int(self.seed)).fit(images)

    def prepare(self, X) -> np.ndarray:
        """Images (N, H, W, C) as the network sees them: their representation (photos' content
        features, a user's vectors scaled: (N, d) in (0, 1)) where the design has one, else their
        pixels prepared (``core.model.prepare``: straightened grey images, standardised photos,
        averaged down, or as they are); the reconstructions are of these."""
        if getattr(self, "representation_", None) is not None:
            return self.representation_.transform(as_images(X))
        how, factor = getattr(self, "preparation_", ("none", 1))
        return prepare(as_images(X), how, factor)

    def draw(self, X) -> tuple[np.ndarray, np.ndarray] | None:
        """(pixels as the network or the pages see them, the network's drawing of them), each
        (n, h, w, C) in [0, 1], for (n, H, W, C) images: the prepared images and their
        reconstructions, or, with photo features, the photos standardised and halved and what the
        pixel decoder draws from their latent vectors. None where nothing draws pixels (vectors)."""
        if getattr(self, "representation_", None) is None:
            return self.prepare(X), self.reconstruct(X)
        if getattr(self, "pixel_decoder_", None) is None:
            return None
        images = as_images(X)
        return prepare(images, *self.preparation_), self.draw_latent(self.transform(images))

    def draw_latent(self, latent) -> np.ndarray | None:
        """(N, h, w, C) float32 pictures in [0, 1] of a latent matrix (N, n_latent_): the decoder's
        images, or, with photo features, the pixel decoder's; None where nothing draws pixels
        (vectors)."""
        check_is_fitted(self, "model_")
        if getattr(self, "representation_", None) is None:
            return self.inverse_transform(latent)
        if getattr(self, "pixel_decoder_", None) is None:
            return None
        latent = np.asarray(latent, dtype=np.float32).reshape((-1, *self.latent_shape_))
        return predict_in_batches(self.pixel_decoder_, latent).astype(np.float32)

    def _network_input(self, X, prepared: bool = False) -> np.ndarray:
        check_is_fitted(self, "model_")
        images = as_images(X) if prepared else self.prepare(X)
        if images.shape[1:] != tuple(self.model_.input_shape[1:]):
            raise UserInputError(f"the model was trained on {tuple(self.image_shape_)} images, "
                                 f"got {as_images(X).shape[1:]}")
        return images

    def transform(self, X, prepared: bool = False) -> np.ndarray:
        """Encode images (N, H, W, C) to a float32 latent matrix (N, n_latent_); ``prepared=True``
        says X is already :meth:`prepare` of the images."""
        images = self._network_input(X, prepared)
        latent = predict_in_batches(self.encoder_, images)
        return latent.reshape(len(images), -1).astype(np.float32)

    def inverse_transform(self, latent) -> np.ndarray:
        """Decode a latent matrix (N, n_latent_) to what the network learns from, float32: images in
        [0, 1] as the network sees them (see :meth:`prepare`), or the representation's values (see
        :meth:`draw_latent` for pictures)."""
        check_is_fitted(self, "model_")
        latent = np.asarray(latent, dtype=np.float32).reshape((-1, *self.latent_shape_))
        return predict_in_batches(self.decoder_, latent).astype(np.float32)

    def reconstruct(self, X) -> np.ndarray:
        """Encode then decode images (N, H, W, C): the network's attempt at :meth:`prepare` of them."""
        return predict_in_batches(self.model_, self._network_input(X)).astype(np.float32)

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared pixel error per image, shape (N,), pixel values in [0, 1], of the
        reconstruction against the prepared image."""
        images = self._network_input(X)
        return squared_error(images, predict_in_batches(self.model_, images))

    def save(self, path) -> Path:
        """Write the fitted model as one ``.keras`` file of stock Keras layers (see :func:`portable`),
        with the pixel decoder as a second output when there is one; a representation's fitted
        arrays go beside it, into ``representation.npz`` of the same folder."""
        import keras

        path = Path(path)
        saved = self.model_
        if getattr(self, "pixel_decoder_", None) is not None:
            inputs = keras.Input(shape=self.model_.input_shape[1:])
            latent = self.encoder_(inputs)
            saved = keras.Model(inputs, [self.decoder_(latent), self.pixel_decoder_(latent)], name=self.model_.name)
        portable(saved).save(path)
        path.with_name(REPRESENTATION_FILE).unlink(missing_ok=True)  # a model saved here before
        if getattr(self, "representation_", None) is not None:
            from core.files import write_npz

            write_npz(path.with_name(REPRESENTATION_FILE),
                      {**self.representation_.to_arrays(), "image_shape": np.array(self.image_shape_)})
        return path

    @classmethod
    def load(cls, path) -> Autoencoder:
        """Load a model written by :meth:`save`, with Keras' ``safe_mode`` (no code runs)."""
        keras = import_keras()

        import core.model.layers  # noqa: F401  (registers the seed network's layers: models saved before they were portable)

        path = Path(path)
        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
            encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
            pixel_decoder = model.get_layer("pixel_decoder") if len(model.outputs) > 1 else None
        except ValueError as error:
            raise UserInputError(f"'{path.name}' is not a model this tool can load safely ({error})") from error
        except Exception as error:
            raise UserInputError(f"'{path.name}' is not a readable .keras model ({type(error).__name__})") from error
        preset, _, preparation = model.name.removeprefix("autoencoder_").partition("__")
        estimator = cls(preset=preset if preset in PRESETS else "default")
        estimator.encoder_, estimator.decoder_ = encoder, decoder
        how, _, factor = preparation.rpartition("_")
        estimator.preparation_ = (how, int(factor)) if how in PREPARATIONS and factor.isdigit() else ("none", 1)
        if len(encoder.input_shape) == 4:  # pixels: the images' size before their averaging down
            height, width, channels = encoder.input_shape[1:]
            estimator.image_shape_ = (height * estimator.preparation_[1], width * estimator.preparation_[1], channels)
        else:
            estimator.image_shape_ = tuple(encoder.input_shape[1:])
        if len(encoder.output_shape) == 2:
            estimator.latent_dim = int(encoder.output_shape[1])
        estimator.model_ = model
        estimator.representation_, estimator.pixel_decoder_ = None, pixel_decoder
        if pixel_decoder is not None:  # the autoencoder itself is the first output
            inputs = keras.Input(shape=encoder.input_shape[1:])
            estimator.model_ = keras.Model(inputs, decoder(encoder(inputs)), name=model.name)
        if path.with_name(REPRESENTATION_FILE).is_file():
            from core.model.representation import from_arrays

            with np.load(path.with_name(REPRESENTATION_FILE), allow_pickle=False) as arrays:
                estimator.representation_ = from_arrays(arrays)
                estimator.image_shape_ = tuple(int(side) for side in arrays["image_shape"])
        estimator.latent_shape_ = tuple(encoder.output_shape[1:])
        estimator.n_latent_ = int(np.prod(estimator.latent_shape_))
        estimator.history_ = {}
        estimator.implementation_ = "keras"  # saved models hold Keras' own layers
        return estimator


ConvAutoencoder = Autoencoder  # the earlier name, kept for code that imports it

REPRESENTATION_FILE = "representation.npz"  # beside a saved model: its representation's fitted arrays




def portable(model):
    """``model`` with the project's own layer classes (``core.model.layers``) swapped for the stock Keras
    layers they subclass, with the same weights: a saved copy then loads with plain Keras. Returns
    ``model`` itself when it holds none of them."""
    import keras

    from core.model.layers import BlockMaxPooling2D, ShiftConv2D

    stock = {ShiftConv2D: keras.layers.Conv2D, BlockMaxPooling2D: keras.layers.MaxPooling2D}
    if not any(type(layer) in stock for part in model.layers for layer in getattr(part, "layers", [part])):
        return model

    def clone(layer):
        return stock.get(type(layer), type(layer)).from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy
