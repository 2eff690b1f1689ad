"""The presets' training plans: epochs and batch size from the preset and the data, checked settings."""

import pytest

from core.errors import UserInputError
from core.model.presets import MAX_EPOCHS, PRESETS, default_design, design_for, training_plan


def steps(plan, n_images):
    return plan.epochs * -(-(n_images - plan.n_validation) // plan.batch_size)


def test_the_seed_preset_trains_the_tutorials_three_epochs_at_batch_32():
    plan = training_plan("seed", n_images=60_000)
    assert (plan.epochs, plan.batch_size, plan.n_validation) == (3, 32, 6_000)


@pytest.mark.parametrize(("shape", "n_images"), [((8, 8, 1), 1_797), ((28, 28, 1), 60_000), ((32, 32, 3), 10_000)])
def test_the_default_preset_trains_at_least_its_designs_steps(shape, n_images):
    plan = training_plan("default", n_images=n_images, image_shape=shape)
    design = default_design(shape, n_images)
    assert steps(plan, n_images) >= design.min_steps
    assert 32 <= plan.batch_size <= PRESETS["default"].batch_size


def test_small_data_gets_smaller_batches_and_more_epochs():
    small = training_plan("default", n_images=300, image_shape=(8, 8, 1))
    large = training_plan("default", n_images=60_000, image_shape=(28, 28, 1))
    assert small.batch_size < large.batch_size and small.epochs > large.epochs


def test_settings_given_are_kept_and_a_batch_larger_than_the_data_is_lowered():
    plan = training_plan("default", epochs=5, batch_size=10_000, n_images=500, image_shape=(8, 8, 1))
    assert plan.epochs == 5 and plan.batch_size == 500 - plan.n_validation


@pytest.mark.parametrize(("settings", "message"), [
    ({"epochs": 0}, "epochs must be"), ({"epochs": MAX_EPOCHS + 1}, "epochs must be"), ({"epochs": 2.5}, "epochs"),
    ({"batch_size": 0}, "batch size"), ({"n_images": 1}, "at least 2 images"),
    ({"validation_fraction": 0.95}, "validation fraction"),
])
def test_settings_that_cannot_work_are_one_line(settings, message):
    with pytest.raises(UserInputError, match=message):
        training_plan("default", **{"n_images": 1_000, **settings})


def test_an_unknown_preset_names_the_presets():
    with pytest.raises(UserInputError, match="choose one of"):
        training_plan("bigger", n_images=100)


def test_designs_follow_the_data():
    assert design_for("seed", (28, 28, 1), 60_000) is None  # one fixed network
    grey, photos = design_for("default", (28, 28, 1), 60_000), design_for("default", (32, 32, 3), 10_000)
    assert grey.prepare == "straighten" and photos.prepare == "standardize" and photos.downsample == 2
    assert "grey" in grey.describe((28, 28, 1)) and "photos" in photos.describe((32, 32, 3))
