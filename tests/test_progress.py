"""The run's stopwatch and progress: stages timed, epochs and chunks counted, the time left estimated
from the plan and rescaled by the measured speed, and the whole state round-tripped through JSON."""

import json

import pytest

from core.run.progress import STAGE_TITLES, Progress, format_seconds


def planned(epochs=4) -> Progress:
    progress = Progress()
    progress.plan(n_train=1_000, n_analysed=1_000, pixels=64, epochs=epochs,
                  stages=["train", "encode", "map", "cluster", "anomaly", "compare", "write"])
    return progress


def test_a_plan_expects_every_stage_and_the_time_left_is_their_sum():
    progress = planned()
    assert list(progress.planned) == ["train", "encode", "map", "cluster", "anomaly", "compare", "write"]
    assert all(seconds > 0 for seconds in progress.planned.values())
    assert progress.seconds_left() is None  # still queued: no estimate yet
    progress.stage, progress.stage_started = "train", progress.started
    assert progress.seconds_left(now=progress.started) == pytest.approx(sum(progress.planned.values()))


def test_stages_are_timed_and_listeners_hear_every_change():
    progress, heard = planned(), []
    progress.listen(lambda p, event: heard.append((event, p.stage)))
    with progress.run_stage("encode"):
        pass
    with progress.run_stage("encode"):  # a second stage of the same name adds to its seconds
        pass
    progress.epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
    progress.chunk_done(1, 3)
    progress.finish()
    assert [event for event, _ in heard] == ["stage", "stage", "epoch", "chunk", "end"]
    assert progress.seconds["encode"] >= 0 and progress.history == {"loss": [0.5], "val_loss": [0.6]}
    assert progress.finished and progress.fraction() == 1.0 and progress.seconds_left() == 0.0


def test_training_reports_its_own_pace_and_the_text_says_where_it_is():
    progress = planned(epochs=4)
    progress.stage, progress.stage_started = "train", 100.0
    progress.epoch_end(0, {"loss": 0.3})
    assert progress.stage_fraction() == 0.25
    # one epoch took 10 s: three more are expected to take 30 s, plus the stages after training
    after_training = sum(seconds for name, seconds in progress.planned.items() if name != "train")
    assert progress.seconds_left(now=110.0) == pytest.approx(30.0 + after_training)
    text = progress.describe()
    assert text.startswith(STAGE_TITLES["train"]) and "epoch 2 of 4" in text and "left" in text


def test_finished_stages_rescale_the_estimate_of_the_rest():
    progress = planned()
    progress.seconds["train"] = 2 * progress.planned["train"]  # this machine runs at half the expected speed
    progress.stage, progress.stage_started = "encode", 0.0
    assert progress.speed_factor() == pytest.approx(2.0)
    later = sum(progress.planned[name] for name in ("map", "cluster", "anomaly", "compare", "write"))
    assert progress.seconds_left(now=0.0) == pytest.approx(2 * (progress.planned["encode"] + later))


def test_the_state_round_trips_through_json_without_its_listeners():
    progress = planned()
    progress.listen(lambda p, event: None)
    progress.epoch_end(1, {"loss": 0.2})
    again = Progress.from_dict(json.loads(progress.to_json()))
    assert again.planned == progress.planned and again.history == progress.history and again.epoch == 2
    assert again._listeners == []


def test_a_failed_run_says_why():
    progress = planned()
    progress.finish("no such dataset")
    assert progress.stage == "failed" and progress.error == "no such dataset" and progress.finished


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (12.2, "13 s"), (185, "3 min 5 s"), (660, "11 min"),
                                               (3840, "1 h 4 min")])
def test_durations_read_as_a_person_reads_them(seconds, text):
    assert format_seconds(seconds) == text
