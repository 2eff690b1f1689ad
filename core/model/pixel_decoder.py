"""A second decoder for an autoencoder that learns from photos' content features: it draws a latent
vector as the photo's prepared pixels, so that the pages can still show what the network makes of
an image (the reconstruction, the per-pixel error) although the network itself rebuilds features."""

from __future__ import annotations

import numpy as np

PIXEL_DECODER_STEPS = 1_000
PIXEL_DECODER_MAX_EPOCHS = 50  # a few hundred photos: passes over them, not a thousand one-batch epochs
PIXEL_DECODER_WIDTHS = (256, 1024)


def train_pixel_decoder(latent: np.ndarray, pictures: np.ndarray, seed: int = 0):
    """A Keras model (named "pixel_decoder") from (N, d) latent vectors to (N, h, w, C) pictures in
    [0, 1] (the photos as the pages show them), trained for ``PIXEL_DECODER_STEPS`` steps of 128
    (at most ``PIXEL_DECODER_MAX_EPOCHS`` passes over the photos) with Adam and binary cross-entropy. The autoencoder's own weights are not touched."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=latent.shape[1:])
    x = inputs
    for units in PIXEL_DECODER_WIDTHS:
        x = layers.Dense(units, activation="relu")(x)
    mean = np.clip(pictures.mean(axis=0).reshape(-1).astype(np.float64), 1e-3, 1 - 1e-3)
    x = layers.Dense(int(np.prod(pictures.shape[1:])), activation="sigmoid",
                     bias_initializer=keras.initializers.Constant(np.log(mean / (1 - mean)).astype(np.float32)))(x)
    decoder = keras.Model(inputs, layers.Reshape(pictures.shape[1:])(x), name="pixel_decoder")
    decoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", steps_per_execution=32)
    batch = min(128, len(latent))
    epochs = min(PIXEL_DECODER_MAX_EPOCHS, max(1, -(-PIXEL_DECODER_STEPS // -(-len(latent) // batch))))
    decoder.fit(latent, pictures, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    return decoder
