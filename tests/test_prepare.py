"""Straightening grey images before the autoencoder (core/prepare.py), on real digits."""

import numpy as np

from core.model.prepare import _bilinear, straighten


def moments(images):
    pixels = images[..., 0]
    rows = np.arange(pixels.shape[1])[None, :, None]
    columns = np.arange(pixels.shape[2])[None, None, :]
    mass = pixels.sum(axis=(1, 2))
    row_centre = (pixels * rows).sum(axis=(1, 2)) / mass
    column_centre = (pixels * columns).sum(axis=(1, 2)) / mass
    covariance = (pixels * (rows - row_centre[:, None, None]) * (columns - column_centre[:, None, None])).sum(
        axis=(1, 2)) / mass
    return row_centre, column_centre, covariance


def test_straightened_digits_are_centred_and_unslanted(mnist_2000):
    digits = mnist_2000.images[:200]
    straight = straighten(digits)
    assert straight.shape == digits.shape and straight.dtype == np.float32
    assert straight.min() >= 0 and straight.max() <= 1
    row_centre, column_centre, covariance = moments(straight)
    _, _, before = moments(digits)
    assert np.abs(row_centre - 13.5).max() < 0.6 and np.abs(column_centre - 13.5).max() < 0.6
    assert np.abs(covariance).mean() < 0.2 * np.abs(before).mean()
    np.testing.assert_allclose(straighten(digits[:7]), straight[:7], atol=1e-6)  # image by image


def test_a_sheared_digit_straightens_to_about_the_same_image(mnist_2000):
    digit = mnist_2000.images[3:4, ..., 0]
    rows, columns = np.mgrid[:28, :28].astype(np.float32)
    sheared = _bilinear(digit, rows[None], (columns + 0.3 * (rows - 13.5))[None])[..., None]
    assert np.abs(sheared - digit[..., None]).mean() > 0.05  # visibly slanted
    assert np.abs(straighten(sheared) - straighten(digit[..., None])).mean() < 0.03


def test_colour_images_pass_through(mnist_2000):
    colour = np.repeat(mnist_2000.images[:3], 3, axis=-1)
    assert straighten(colour) is colour
