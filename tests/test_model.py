"""The autoencoder: presets, training, shapes for any image size, save/load, bad settings."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline

from core.errors import UserInputError
from core.model import Autoencoder
from core.model.presets import design_for


def test_seed_preset_latent_has_98_numbers_and_its_loss_drops(mnist_2000):
    model = Autoencoder(preset="seed", epochs=2, seed=0).fit(mnist_2000)

    assert model.latent_shape_ == (7, 7, 2)
    assert model.transform(mnist_2000.images[:5]).shape == (5, 98)
    assert len(model.history_["loss"]) == len(model.history_["val_loss"]) == 2
    assert model.history_["loss"][1] < model.history_["loss"][0]
    assert model.history_["val_loss"][1] < model.history_["val_loss"][0]


@pytest.mark.parametrize("preset, latent_size", [("default", None), ("seed", 98)])
def test_any_image_size_round_trips_and_the_model_saves_and_loads(tmp_path, mnist_2000, preset, latent_size):
    # Real digits cropped to an odd size, in colour: 27 x 25 x 3 is no multiple of the 4x downsampling.
    images = np.repeat(mnist_2000.images[:300, :27, 1:26, :], 3, axis=-1)
    model = Autoencoder(preset=preset, epochs=2, seed=0).fit(images)

    latent = model.transform(images)
    design = design_for(preset, images.shape[1:], len(images))
    assert latent.shape == (300, design.latent_dim if design else latent_size)  # colour: the photo design's
    assert model.inverse_transform(latent).shape == model.prepare(images).shape
    # colour photos: the network learns from the photos' content features; the seed network from pixels
    assert model.prepare(images).shape[1:] == ((design.inputs,) if design else images.shape[1:])
    if design:
        shown, drawn = model.draw(images)
        assert design.representation == "photo features" and shown.shape == drawn.shape == (300, 13, 12, 3)
    errors = model.reconstruction_error(images)
    assert errors.shape == (300,) and np.all(errors >= 0)

    path = model.save(tmp_path / "model.keras")
    loaded = Autoencoder.load(path)
    assert loaded.preset == preset
    np.testing.assert_allclose(loaded.transform(images), latent, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.reconstruction_error(images), errors, rtol=1e-4, atol=1e-6)


CONVOLUTIONS = [  # (input shape, filters, Conv2D options): the seed network's five, an odd shape, and
    ((3, 28, 28, 1), 16, {}), ((3, 14, 14, 16), 2, {}), ((3, 7, 7, 2), 2, {}),  # shapes the shifts
    ((3, 14, 14, 2), 16, {}), ((3, 28, 28, 16), 1, {}), ((2, 9, 5, 3), 4, {}),  # do not cover
    ((2, 9, 5, 3), 4, {"strides": 2}), ((2, 9, 5, 3), 4, {"kernel_size": 5}), ((2, 9, 5, 3), 4, {"padding": "valid"}),
]


@pytest.mark.parametrize("shape, filters, options", CONVOLUTIONS)
def test_the_shift_convolution_equals_keras_conv2d_and_so_do_its_gradients(shape, filters, options):
    import keras
    import tensorflow as tf

    from core.model.layers import ShiftConv2D

    rng = np.random.default_rng(0)
    options = {"kernel_size": 3, "padding": "same", "activation": "relu", **options}
    reference, fast = keras.layers.Conv2D(filters, **options), ShiftConv2D(filters, **options)
    reference.build(shape)
    fast.build(shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    fast.set_weights(weights)
    images = tf.constant(rng.random(shape, dtype=np.float32))

    def outputs_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = layer(images)
            weighted = tf.reduce_sum(outputs * np.linspace(0.5, 1.5, outputs.shape[-1], dtype=np.float32))
        return [outputs, *tape.gradient(weighted, [images, *layer.trainable_weights])]

    for got, expected in zip(outputs_and_gradients(fast), outputs_and_gradients(reference)):
        scale = float(tf.reduce_max(tf.abs(expected))) + 1e-6
        np.testing.assert_allclose(got.numpy() / scale, expected.numpy() / scale, atol=1e-5)


@pytest.mark.parametrize("shape, pool", [((3, 28, 28, 16), 2), ((3, 14, 14, 2), 2), ((2, 9, 6, 3), 3), ((2, 7, 7, 2), 2)])
def test_the_block_max_pooling_equals_keras_max_pooling_behind_a_relu(shape, pool):
    """Equal outputs and input gradients (behind a ReLU, where tied maxima are zeros); a 7 x 7 input
    (not divisible) falls back to Keras' own pooling."""
    import keras
    import tensorflow as tf

    from core.model.layers import BlockMaxPooling2D

    images = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))

    def outputs_and_gradient(layer):
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = layer(tf.nn.relu(images))
            weighted = tf.reduce_sum(outputs * np.linspace(0.5, 1.5, outputs.shape[-1], dtype=np.float32))
        return outputs.numpy(), tape.gradient(weighted, images).numpy()

    got = outputs_and_gradient(BlockMaxPooling2D(pool, padding="same"))
    expected = outputs_and_gradient(keras.layers.MaxPooling2D(pool, padding="same"))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], atol=1e-6)


def test_the_earlier_name_still_works():
    import core.model

    assert core.model.ConvAutoencoder is Autoencoder


def test_it_composes_in_a_sklearn_pipeline():
    from core.data import load_image_set

    digits = load_image_set("digits")
    pipeline = make_pipeline(Autoencoder(preset="seed", epochs=1), KMeans(n_clusters=10, n_init=1, random_state=0))
    clusters = pipeline.fit_predict(digits.images)
    assert clusters.shape == (1797,)
    assert pipeline[0].n_latent_ == 8  # 8x8 digits -> 2x2x2 latent


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 10_000}, "epochs"),
    ({"batch_size": 0}, "batch size"),
    ({"preset": "huge"}, "unknown preset"),
    ({"latent_dim": 0}, "latent size"),
])
def test_absurd_settings_are_refused_before_training(mnist_2000, settings, message):
    with pytest.raises(UserInputError, match=message):
        Autoencoder(**settings).fit(mnist_2000.images[:50])


def test_a_batch_larger_than_the_data_is_capped(mnist_2000):
    model = Autoencoder(preset="seed", epochs=1, batch_size=5000).fit(mnist_2000.images[:40])
    assert len(model.history_["loss"]) == 1


def test_loading_refuses_non_models_and_lambda_layers(tmp_path):
    import keras

    (tmp_path / "junk.keras").write_bytes(b"not a model")
    with pytest.raises(UserInputError):
        Autoencoder.load(tmp_path / "junk.keras")

    inputs = keras.Input(shape=(8, 8, 1))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(UserInputError, match="safely"):
        Autoencoder.load(tmp_path / "lambda.keras")


def test_the_seed_network_trains_alike_in_each_implementation(mnist_2000, tmp_path, monkeypatch):
    """Keras' layers, the shifted-slice layers, and those compiled by XLA follow the same losses up to
    float rounding; without a choice, the measured fastest for the planned steps is used, measured
    once and kept in the cache folder."""
    import core.model.implementation

    trained = {name: Autoencoder(preset="seed", epochs=2, seed=0, implementation=name).fit(mnist_2000)
               for name in core.model.implementation.IMPLEMENTATIONS}
    for name, model in trained.items():
        assert model.implementation_ == name
        for metric in ("loss", "val_loss"):
            np.testing.assert_allclose(model.history_[metric], trained["keras"].history_[metric], rtol=3e-3)
        np.testing.assert_allclose(model.transform(mnist_2000.images[:50]),
                                   trained["keras"].transform(mnist_2000.images[:50]), atol=0.05)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    speeds = {"machine": core.model.implementation.machine_id(), "keras": 0.010, "keras start": 1.0, "shifted": 0.006,
              "shifted start": 1.0, "shifted+xla": 0.002, "shifted+xla start": 8.0}
    core.model.implementation.cache_path().parent.mkdir(parents=True)
    core.model.implementation.cache_path().write_text(__import__("json").dumps(speeds))
    assert core.model.implementation.choose(100) == "shifted"  # too short to repay XLA's compilation
    assert core.model.implementation.choose(10_000) == "shifted+xla"
    chosen = Autoencoder(preset="seed", epochs=1, seed=0).fit(mnist_2000)
    assert chosen.implementation_ == "shifted"  # 57 steps: the kept measurement decides


def test_a_short_seed_training_on_an_unmeasured_machine_uses_keras_layers_and_measures_nothing(tmp_path, monkeypatch):
    """The measurement would cost more than the faster forms could save in the tutorial's 3 epochs."""
    import core.model.implementation as implementation

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    steps = 3 * -(-54_000 // 32)  # the tutorial's 3 epochs at batch 32 on MNIST's 54,000 training images
    assert implementation.choose(steps) == "keras"
    assert not implementation.cache_path().exists()


@pytest.mark.parametrize("preset", ["seed"])
def test_measuring_the_implementations_times_each_one(preset):
    import core.model.implementation

    found = core.model.implementation.measure()
    for name in core.model.implementation.IMPLEMENTATIONS:
        assert 0 < found[name] < 1 and found[f"{name} start"] >= 0
