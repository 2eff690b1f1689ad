"""The autoencoder: presets, training, shapes for any image size, save/load, bad settings."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline

from core.errors import UserInputError
from core.model import ConvAutoencoder


def test_seed_preset_latent_has_98_numbers_and_its_loss_drops(mnist_2000):
    model = ConvAutoencoder(preset="seed", epochs=2, seed=0).fit(mnist_2000)

    assert model.latent_shape_ == (7, 7, 2)
    assert model.transform(mnist_2000.images[:5]).shape == (5, 98)
    assert len(model.history_["loss"]) == len(model.history_["val_loss"]) == 2
    assert model.history_["loss"][1] < model.history_["loss"][0]
    assert model.history_["val_loss"][1] < model.history_["val_loss"][0]


def test_any_image_size_round_trips_and_the_model_saves_and_loads(tmp_path, mnist_2000):
    # Real digits cropped to an odd size, in colour: 27 x 25 x 3 is no multiple of the 4x downsampling.
    images = np.repeat(mnist_2000.images[:300, :27, 1:26, :], 3, axis=-1)
    model = ConvAutoencoder(preset="default", epochs=2, seed=0).fit(images)

    latent = model.transform(images)
    assert latent.shape == (300, 10)
    assert model.inverse_transform(latent).shape == images.shape
    errors = model.reconstruction_error(images)
    assert errors.shape == (300,) and np.all(errors >= 0)

    path = model.save(tmp_path / "model.keras")
    loaded = ConvAutoencoder.load(path)
    assert loaded.preset == "default"
    np.testing.assert_allclose(loaded.transform(images), latent, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.reconstruction_error(images), errors, rtol=1e-4, atol=1e-6)


def test_it_composes_in_a_sklearn_pipeline():
    from core.data import load_image_set

    digits = load_image_set("digits")
    pipeline = make_pipeline(ConvAutoencoder(preset="seed", epochs=1), KMeans(n_clusters=10, n_init=1, random_state=0))
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
        ConvAutoencoder(**settings).fit(mnist_2000.images[:50])


def test_a_batch_larger_than_the_data_is_capped(mnist_2000):
    model = ConvAutoencoder(preset="seed", epochs=1, batch_size=5000).fit(mnist_2000.images[:40])
    assert len(model.history_["loss"]) == 1


def test_loading_refuses_non_models_and_lambda_layers(tmp_path):
    import keras

    (tmp_path / "junk.keras").write_bytes(b"not a model")
    with pytest.raises(UserInputError):
        ConvAutoencoder.load(tmp_path / "junk.keras")

    inputs = keras.Input(shape=(8, 8, 1))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(UserInputError, match="safely"):
        ConvAutoencoder.load(tmp_path / "lambda.keras")
