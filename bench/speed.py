"""Speed benchmark (issue 5): the seed tutorial's plain Keras loop against our pipeline, per stage.

    python bench/speed.py                     # full: train on 60,000 MNIST images, analyse 10,000
    python bench/speed.py --quick             # smoke: 12,000 training images, 2,000 analysed
    python bench/speed.py --only throughput   # the seed network's training loop alone, 3 rounds

Each workload runs in its own subprocess, so peak resident memory (ru_maxrss) and UMAP's one-time
numba compilation are measured per workload, as a user's fresh process would see them. Printed:
seconds and images per second per stage, the ratio of each stage's images per second to the
baseline's, final val_loss, and peak memory. Times are wall-clock on whatever machine runs this;
compare ratios measured in the same run, never absolute numbers across machines.

Workloads:
- baseline: the 2018 tutorial ported to Keras 3 as written: a Sequential model, ``fit`` at batch 32
  for 3 epochs (Adadelta, learning rate 1.0), then encode, KMeans (k=10) and a UMAP map with
  umap-learn's defaults.
- seed: our pipeline with the ``seed`` preset and the seed method (same network and recipe).
- default: our pipeline with default settings (the quality issue's configuration).
- digits: our default pipeline on the built-in digits (train and analyse 1,797 images).
- photos: our default pipeline on the 10,000 photos of ../shared/data/cifar10_train_10k.zip (the
  peak memory the README's table gives for photos).
- throughput: the seed network's training alone, the baseline's ``fit`` at batch 32 against our
  ``ConvAutoencoder(preset="seed")``, on the same 20,480 training images for 2 epochs, alternating
  (baseline, ours) for 3 rounds in one process. Per round: images per second of the whole fit
  (ours includes its one-time XLA compilation) and of the second epoch alone, the ratio to that
  round's baseline, and both models' loss on the 10,000 test images after the same images seen.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def sizes(quick: bool) -> tuple[int, int]:
    return (12_000, 2_000) if quick else (60_000, 10_000)


def mnist(quick: bool):
    from core.data import load_image_set

    n_train, n_test = sizes(quick)
    train = load_image_set(DATA / "mnist_train.npz").subset(slice(0, n_train))
    test = load_image_set(DATA / "mnist_test.npz").subset(slice(0, n_test))
    return train, test


def seed_network_baseline():
    """The tutorial's network as a Keras Sequential model, compiled as the tutorial does."""
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(16, 3, activation="relu", padding="same"), layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(2, 3, activation="relu", padding="same"), layers.MaxPooling2D(2, padding="same", name="latent"),
        layers.Conv2D(2, 3, activation="relu", padding="same"), layers.UpSampling2D(2),
        layers.Conv2D(16, 3, activation="relu", padding="same"), layers.UpSampling2D(2),
        layers.Conv2D(1, 3, activation="sigmoid", padding="same"),
    ])
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="binary_crossentropy")
    return model


def baseline(quick: bool) -> dict:
    """The tutorial's loop as written, timed per stage."""
    seconds = {}
    start = time.perf_counter()
    import keras
    seconds["import"] = time.perf_counter() - start
    train, test = mnist(quick)

    from sklearn.cluster import KMeans

    keras.utils.set_random_seed(0)
    model = seed_network_baseline()
    start = time.perf_counter()
    history = model.fit(train.images, train.images, epochs=3, batch_size=32, shuffle=True,
                        validation_data=(test.images, test.images), verbose=0)
    seconds["train"] = time.perf_counter() - start
    start = time.perf_counter()
    encoder = keras.Model(model.inputs, model.get_layer("latent").output)
    latent = encoder.predict(test.images, verbose=0).reshape(len(test), -1)
    seconds["encode"] = time.perf_counter() - start
    start = time.perf_counter()
    KMeans(n_clusters=10, random_state=0).fit(latent)  # the tutorial's KMeans, scikit-learn's defaults
    seconds["cluster"] = time.perf_counter() - start
    start = time.perf_counter()
    import umap  # as a user of the tutorial would: default settings, numba compiling on first call

    umap.UMAP(random_state=0).fit_transform(latent)
    seconds["map"] = time.perf_counter() - start
    return {"seconds": seconds, "val_loss": history.history["val_loss"][-1],
            "n_train": len(train), "n_analysed": len(test), "train_images_seen": 3 * len(train)}


def throughput(quick: bool, rounds: int = 3, n_images: int = 20_480, epochs: int = 2) -> dict:
    """The seed network's training loop against the baseline's, alternating in one process."""
    import keras

    from core.model import ConvAutoencoder

    train, test = mnist(quick)
    images = train.images[:n_images]

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    def timed(fit) -> dict:
        clock = EpochClock()
        start = time.perf_counter()
        model = fit(clock)
        seconds = time.perf_counter() - start
        loss = model.evaluate(test.images, test.images, batch_size=1024, verbose=0)
        return {"images_per_second": epochs * len(images) / seconds,
                "last_epoch_images_per_second": len(images) / (clock.ends[-1] - clock.ends[-2]),
                "test_loss": float(loss)}

    def fit_baseline(clock):
        keras.utils.set_random_seed(0)
        model = seed_network_baseline()
        model.fit(images, images, epochs=epochs, batch_size=32, shuffle=True, verbose=0, callbacks=[clock])
        return model

    def fit_ours(clock):
        estimator = ConvAutoencoder(preset="seed", epochs=epochs, validation_fraction=0, seed=0)
        model = estimator.fit(images, callbacks=[clock]).model_
        model.compile(loss="binary_crossentropy")  # for evaluate: the same loss as the baseline's
        return model

    results = [{"baseline": timed(fit_baseline), "ours": timed(fit_ours)} for _ in range(rounds)]
    return {"rounds": results, "n_images": len(images), "epochs": epochs}


def print_throughput(result: dict) -> None:
    rounds = result["rounds"]
    print(f"\n# seed network training: {result['epochs']} epochs on {result['n_images']:,} MNIST images, "
          f"{len(rounds)} alternating rounds\n")
    print("| round | baseline images/s (whole fit / 2nd epoch) | ours images/s (whole fit / 2nd epoch) | "
          "ratio whole fit | ratio 2nd epoch | test loss baseline / ours |")
    print("| --- | --- | --- | --- | --- | --- |")
    whole, steady = [], []
    for number, row in enumerate(rounds, 1):
        base, ours = row["baseline"], row["ours"]
        whole.append(ours["images_per_second"] / base["images_per_second"])
        steady.append(ours["last_epoch_images_per_second"] / base["last_epoch_images_per_second"])
        print(f"| {number} | {base['images_per_second']:,.0f} / {base['last_epoch_images_per_second']:,.0f} | "
              f"{ours['images_per_second']:,.0f} / {ours['last_epoch_images_per_second']:,.0f} | "
              f"{whole[-1]:.2f}x | {steady[-1]:.2f}x | {base['test_loss']:.4f} / {ours['test_loss']:.4f} |")
    print(f"| **median** | | | **{statistics.median(whole):.2f}x** | **{statistics.median(steady):.2f}x** | |")


def ours(quick: bool, preset: str) -> dict:
    """Our pipeline end to end (what the app and the command line compute), stage by stage."""
    start = time.perf_counter()
    from core.run import RunConfig, run_pipeline
    import_seconds = time.perf_counter() - start
    if preset in ("digits", "photos"):
        data = "digits" if preset == "digits" else str(DATA / "cifar10_train_10k.zip")
        result = run_pipeline(RunConfig(data=data))
        n_train = n_analysed = len(result.table)
    else:
        train, test = mnist(quick)
        config = RunConfig(data=str(DATA / "mnist_test.npz"), train_data=str(DATA / "mnist_train.npz"), preset=preset)
        result = run_pipeline(config, train_set=train, analysis_set=test)
        n_train, n_analysed = len(train), len(test)
    seconds = {"import": import_seconds, **{k: v for k, v in result.metrics["seconds"].items() if " " not in k}}
    seconds.pop("total", None)
    history = result.metrics["history"]
    fitted = n_train - round(n_train * result.model.validation_fraction)
    return {"seconds": seconds, "val_loss": (history.get("val_loss") or [float("nan")])[-1],
            "n_train": n_train, "n_analysed": n_analysed, "train_images_seen": fitted * len(history["loss"]),
            "clustering": result.metrics.get("clustering", {})}


def worker(name: str, quick: bool) -> None:
    workers = {"baseline": baseline, "throughput": throughput}
    result = workers[name](quick) if name in workers else ours(quick, name)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def run_worker(name: str, quick: bool) -> dict:
    command = [sys.executable, __file__, "--worker", name] + (["--quick"] if quick else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result["wall"] = wall
    return result


def print_table(results: dict) -> None:
    """One markdown table: seconds and images/s per stage, ratio of images/s to the baseline."""
    base = results.get("baseline")
    print("| workload | stage | seconds | images/s | images/s vs baseline |")
    print("| --- | --- | --- | --- | --- |")
    for name, result in results.items():
        for stage, value in result["seconds"].items():
            images = result["train_images_seen"] if stage == "train" else result["n_analysed"]
            per_second = images / value if stage != "import" and value > 0 else None
            ratio = ""
            if per_second and base and name != "baseline" and stage in base["seconds"]:
                base_images = base["train_images_seen"] if stage == "train" else base["n_analysed"]
                ratio = f"{per_second / (base_images / base['seconds'][stage]):.2f}x"
            print(f"| {name} | {stage} | {value:.1f} | {'' if per_second is None else f'{per_second:,.0f}'} | {ratio} |")
        print(f"| {name} | **whole process** | **{result['wall']:.1f}** | | val_loss {result['val_loss']:.4f}, "
              f"peak RSS {result['peak_rss_mb']:,.0f} MB |")


def print_against_the_tutorial(results: dict) -> None:
    """The quality issue's speed target: the default MNIST run, its comparison stage aside, against
    the tutorial's own 3-epoch Keras training, both measured in this run."""
    base, default = results.get("baseline"), results.get("default")
    if not base or not default:
        return
    without_compare = sum(v for k, v in default["seconds"].items() if k != "compare")
    ratio = without_compare / base["seconds"]["train"]
    print(f"\ndefault MNIST run without its comparison stage: {without_compare:.1f} s = {ratio:.2f}x the tutorial's "
          f"3-epoch training ({base['seconds']['train']:.1f} s); target <= 1.5x: {'met' if ratio <= 1.5 else 'missed'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", default=["baseline", "default", "digits", "photos", "seed", "throughput"])
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.quick)
        return
    n_train, n_test = sizes(args.quick)
    print(f"# speed: train on {n_train:,} MNIST images, analyse {n_test:,}; digits: 1,797 images\n")
    results = {}
    for name in args.only:
        try:
            results[name] = run_worker(name, args.quick)
        except RuntimeError as error:  # one failed workload: report it, measure the others
            print(error, file=sys.stderr, flush=True)
            continue
        print(f"{name}: {results[name]['wall']:.1f} s {json.dumps(results[name])}", file=sys.stderr, flush=True)
    loop = results.pop("throughput", None)
    if results:
        print_table(results)
        print_against_the_tutorial(results)
    if loop:
        print_throughput(loop)


if __name__ == "__main__":
    main()
