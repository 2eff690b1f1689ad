"""The run's stopwatch and progress: stages timed, epochs and chunks counted, and a time left that
follows what was measured (the machine's speed on earlier runs, the run's own pace), grows when a
stage overruns instead of freezing, counts the wait for the worker, and drops when training stops
early. Every estimate here is read on a fake clock (``now=``); one real run checks them against the
time that actually remained."""

import json
import time

import pytest

from core.run.progress import (
    OVERRUN_SHARE,
    PRIOR_SHARE,
    STAGE_TITLES,
    MachineSpeeds,
    Progress,
    expected_left,
    format_seconds,
    rough_seconds,
)

STAGES = ["train", "encode", "map", "cluster", "anomaly", "compare", "write"]


def planned(epochs=4, speeds=None) -> Progress:
    progress = Progress(started=0.0, stage_started=0.0)
    progress.plan(n_train=1_000, n_analysed=1_000, pixels=64, epochs=epochs, stages=STAGES, speeds=speeds or {})
    return progress


def enter(progress: Progress, stage: str, at: float) -> None:
    """Finish the running stage at ``at`` (its seconds as measured) and start ``stage``."""
    if progress.stage in progress.planned:
        progress.seconds[progress.stage] = at - progress.stage_started
    progress.stage, progress.stage_started = stage, at


def test_a_plan_expects_every_stage_and_a_queued_run_counts_its_wait():
    progress = planned()
    assert list(progress.planned) == STAGES and all(seconds > 0 for seconds in progress.planned.values())
    assert Progress().seconds_left() is None  # nothing planned: no estimate
    progress.waiting = 12.0  # the worker process needs 12 s more before it starts this run
    assert progress.seconds_left(now=0.0) == pytest.approx(12.0 + sum(progress.planned.values()))
    assert progress.describe(now=0.0).startswith(STAGE_TITLES["queued"]) and "left" in progress.describe(now=0.0)
    # a wait longer than expected grows instead of sitting at "about 0 s"
    assert progress.seconds_left(now=40.0) > progress.seconds_left(now=30.0) > sum(progress.planned.values())


def test_the_machines_measured_speed_scales_the_plan():
    slow = planned(speeds={"compare": 3.0, "train": 2.0})
    rough = planned()
    assert slow.planned["compare"] == pytest.approx(3 * rough.planned["compare"])
    assert slow.planned["train"] == pytest.approx(2 * rough.planned["train"])
    assert slow.planned["map"] == pytest.approx(rough.planned["map"])


def test_an_overrunning_stage_shows_growing_time_not_a_frozen_estimate():
    progress = planned()
    enter(progress, "compare", at=100.0)
    expected = progress.planned["compare"]
    after = sum(progress.planned[name] for name in ("write",))
    earlier = [progress.seconds_left(now=100.0 + t) for t in (0.0, expected / 2)]
    assert earlier[0] > earlier[1]  # on track: counting down
    late = [progress.seconds_left(now=100.0 + expected * factor) for factor in (2, 3, 5, 10)]
    assert all(b > a for a, b in zip(late, late[1:]))  # past its expectation: the time left grows
    assert late[-1] >= OVERRUN_SHARE * 10 * expected + after
    assert expected_left(10.0, 4.0) == 6.0 and expected_left(10.0, 40.0) == pytest.approx(OVERRUN_SHARE * 40)


def test_training_follows_its_own_pace_without_the_first_epochs_start_up():
    progress = planned(epochs=10)
    enter(progress, "train", at=0.0)
    progress.epoch_end(0, {"loss": 0.3})
    progress.epoch_end(1, {"loss": 0.2})
    progress.epoch_ended[:] = [8.0, 10.0]  # the first epoch also built the network; then 2 s an epoch
    after_training = sum(seconds for name, seconds in progress.planned.items() if name != "train")
    factor = progress.speed_factor(now=10.0)  # training's projected 26 s against its plan scales the rest
    prior = PRIOR_SHARE * sum(progress.planned.values())  # ... drawn towards the plan
    assert factor == pytest.approx(min(5.0, (26.0 + prior) / (progress.planned["train"] + prior)))
    assert progress.seconds_left(now=10.0) == pytest.approx(8 * 2.0 + factor * after_training)
    text = progress.describe(now=10.0)
    assert text.startswith(STAGE_TITLES["train"]) and "epoch 3 of 10" in text and "left" in text


def test_training_that_stops_early_drops_the_time_left_never_raises_it():
    progress = planned(epochs=50)  # 50 is the cap; training stops after 5
    enter(progress, "train", at=0.0)
    for epoch in range(5):
        progress.epoch_end(epoch, {"loss": 0.1, "val_loss": 0.1})
    progress.epoch_ended[:] = [3.0, 4.0, 5.0, 6.0, 7.0]
    before = progress.seconds_left(now=7.0)
    enter(progress, "encode", at=7.0)
    assert progress.seconds_left(now=7.0) < before


def test_finished_stages_rescale_the_estimate_of_the_rest():
    progress = planned()
    enter(progress, "train", at=0.0)
    enter(progress, "encode", at=2 * progress.planned["train"])  # this machine runs at half the expected speed
    prior = PRIOR_SHARE * sum(progress.planned.values())  # (one stage's measure, drawn towards the plan)
    factor = (2 * progress.planned["train"] + prior) / (progress.planned["train"] + prior)
    assert progress.speed_factor() == pytest.approx(factor) and 1.5 < factor < 2.0
    later = sum(progress.planned[name] for name in ("map", "cluster", "anomaly", "compare", "write"))
    now = progress.stage_started
    assert progress.seconds_left(now=now) == pytest.approx(factor * (progress.planned["encode"] + later))


def test_machine_speeds_are_learned_from_a_finished_run_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert MachineSpeeds.load().stages == {}
    progress = planned()
    for stage in STAGES:
        progress.seconds[stage] = 3 * progress.planned[stage]
    MachineSpeeds.load().learn(progress).learn_worker_start(5.0).save()
    speeds = MachineSpeeds.load()
    assert speeds.stages == pytest.approx({stage: 3.0 for stage in STAGES}, rel=1e-3)
    assert speeds.worker_start < 15.0
    assert planned().planned == planned(speeds={}).planned  # explicit speeds win over the kept ones
    again = Progress()
    again.plan(1_000, 1_000, 64, 4, STAGES)  # the kept ones
    assert again.planned["map"] == pytest.approx(3 * rough_seconds("map", 1_000, 1_000, 64, 4), rel=1e-3)


def test_the_state_round_trips_through_json_without_its_listeners():
    progress = planned()
    progress.listen(lambda p, event: None)
    progress.epoch_end(1, {"loss": 0.2})
    again = Progress.from_dict(json.loads(progress.to_json()))
    assert again.planned == progress.planned and again.history == progress.history and again.epoch == 2
    assert again.epoch_ended == progress.epoch_ended and again._listeners == []


def test_stages_are_timed_listeners_hear_every_change_and_a_failed_run_says_why():
    progress, heard = planned(), []
    progress.listen(lambda p, event: heard.append((event, p.stage)))
    with progress.run_stage("encode"):
        pass
    with progress.run_stage("encode"):  # a second stage of the same name adds to its seconds
        pass
    progress.epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
    progress.chunk_done(1, 3)
    progress.finish("no such dataset")
    assert [event for event, _ in heard] == ["stage", "stage", "epoch", "chunk", "end"]
    assert progress.seconds["encode"] >= 0 and progress.history == {"loss": [0.5], "val_loss": [0.6]}
    assert progress.stage == "failed" and progress.error == "no such dataset" and progress.finished
    assert progress.fraction() == 1.0 and progress.seconds_left() == 0.0


def test_a_real_runs_estimates_follow_the_time_that_remained(tmp_path, monkeypatch):
    """600 digits, run as the app's worker runs it, its every change recorded. On this machine's speeds
    as measured by that run (what the next run plans with), the time left at 25, 50 and 75 % of the
    run is within half of the time that actually remained."""
    import numpy as np

    from core.data import load_image_set
    from core.run.config import RunConfig
    from core.run.stages import run_pipeline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    digits = load_image_set("digits").subset(np.arange(600))
    states = []
    progress = Progress()
    progress.listen(lambda p, event: states.append((time.time(), p.to_dict())))
    run_pipeline(RunConfig(data="digits", epochs=4), digits, digits, progress=progress)
    end = time.time()
    states.append((end, progress.to_dict()))  # the last stage's seconds
    start = states[0][0]
    speeds = MachineSpeeds().learn(Progress.from_dict(states[-1][1])).stages
    assert set(speeds) >= {"train", "map", "compare"}

    def shown_at(moment: float) -> float:
        state = Progress.from_dict(max((s for s in states if s[0] <= moment), key=lambda s: s[0])[1])
        rough = {name: seconds / state.speeds.get(name, 1.0) for name, seconds in state.planned.items()}
        state.planned = {name: seconds * speeds.get(name, 1.0) for name, seconds in rough.items()}
        state.speeds = speeds
        return state.seconds_left(now=moment)

    for share in (0.25, 0.5, 0.75):
        moment = start + share * (end - start)
        assert shown_at(moment) == pytest.approx(end - moment, rel=0.5), share


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (12.2, "13 s"), (185, "3 min 5 s"), (660, "11 min"),
                                               (3840, "1 h 4 min")])
def test_durations_read_as_a_person_reads_them(seconds, text):
    assert format_seconds(seconds) == text
