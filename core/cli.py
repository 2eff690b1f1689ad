"""The command line: python -m core run --data SPEC --out DIR [options], python -m core similar
--run DIR --image FILE [--top K], and python -m core teach --run DIR --out DIR2 [options].

``run`` trains an autoencoder on the images, clusters their latent vectors, ranks the odd ones,
finds exact and near copies and compares every clusterer and anomaly score side by side; writes a
run folder DIR (results.csv, results.parquet, metrics.json, model.keras, ...) and prints a summary.
``similar`` prints the run's images most like an image file as CSV. ``teach`` labels the rest of a
run's images from a few labels and says which to label next. Progress goes to stderr; bad input
exits with status 2 and one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from core.data.images import Embeddings
from core.errors import UserInputError
from core.methods.registry import stand_in_reason
from core.model.presets import PRESETS
from core.run.config import FIT_SAMPLE, METHODS


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m core", description=__doc__.split("\n\n")[1].replace("\n", " "))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    run = commands.add_parser(
        "run", help="train, cluster, score, map and compare one dataset",
        description="Train the autoencoder, cluster and score every image, compare every method, write DIR.",
        epilog="methods: " + "; ".join(f"{name}: {method.clusterer} + {method.scorer}" for name, method in METHODS.items()))
    run.add_argument("--data", required=True, metavar="SPEC",
                     help="digits (built in), mnist or fashion-mnist (downloaded once), or a path to an .npz file, "
                          "a .zip of images, or a folder of images or of .npz shards")
    run.add_argument("--train-data", metavar="SPEC", help="train on this source instead of --data")
    run.add_argument("--embeddings", metavar="FILE",
                     help="your own vectors, one per image, matched by id: an .npz (ids, embeddings) or a .parquet "
                          "(id and numeric columns, or id and a list column 'embedding'); the network learns from "
                          "them instead of the pixels")
    run.add_argument("--preset", choices=sorted(PRESETS), default="default",
                     help="autoencoder network and recipe (default: default)")
    run.add_argument("--epochs", type=int, help="training epochs (default: the preset's, more on small data)")
    run.add_argument("--batch-size", type=int, help="images per training step (default: the preset's)")
    run.add_argument("--clusters", type=int, default=10, metavar="K", help="number of clusters (default 10)")
    run.add_argument("--contamination", type=float, default=0.01,
                     help="expected share of anomalies; sets the flagging threshold (default 0.01)")
    run.add_argument("--method", choices=list(METHODS),
                     help="clusterer and anomaly score (below); default: seed for the seed preset, else default")
    run.add_argument("--seed", type=int, default=0, help="seed for every random step (default 0)")
    run.add_argument("--fit-sample", type=int, default=FIT_SAMPLE, metavar="N",
                     help=f"images (seeded sample) the fit stages use; the rest are applied in chunks "
                          f"(default {FIT_SAMPLE:,})")
    run.add_argument("--workers", type=int, metavar="N",
                     help="apply the chunks on a local Dask cluster of N worker processes")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="apply the chunks on an existing Dask cluster (tcp://host:port); --data and --out "
                          "must be reachable at the same paths from every worker")
    run.add_argument("--out", required=True, metavar="DIR", help="the run folder to write")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    run.add_argument("--traceback", action="store_true", help="show the full traceback of unexpected errors")
    similar = commands.add_parser(
        "similar", help="the images of a run most like an image file",
        description="Print, as CSV with the header rank,index,id,distance, the images of the run in DIR most like "
                    "FILE: its near copies first (distance: the near-copy distance, 0 for an exact copy), then the "
                    "nearest in the run's latent space (distance: Euclidean, there). Rank 1 is the nearest.")
    similar.add_argument("--run", required=True, metavar="DIR", help="a run folder (python -m core run --out DIR)")
    similar.add_argument("--image", required=True, metavar="FILE", help="an image file (PNG, JPEG, ...)")
    similar.add_argument("--top", type=int, default=10, metavar="K", help="how many images (default 10)")
    similar.add_argument("--traceback", action="store_true", help="show the full traceback of unexpected errors")
    _add_teach(commands)
    return parser


def _add_teach(commands) -> None:
    from core.labels.teach import SUGGESTIONS

    teach = commands.add_parser(
        "teach", help="label the rest of a run's images from a few labels; say which to label next",
        description="Fit a labeller on the labels in FILE over the run in DIR (nothing else is trained again), "
                    "predict a label and a confidence for every image and choose the images to label next; "
                    "write DIR2/suggestions.csv, DIR2/predictions.csv (with two labels or more) and DIR2/metrics.json.")
    teach.add_argument("--run", required=True, metavar="DIR", help="a run folder (python -m core run --out DIR, "
                                                                   "or the app's runs/<key>/)")
    teach.add_argument("--out", required=True, metavar="DIR2", help="the folder to write (created if needed)")
    teach.add_argument("--labels", metavar="FILE", help="a CSV with the columns id and label at least (the Labels "
                                                        "page's labels.csv fits); rows with an empty label are ignored")
    teach.add_argument("--suggest", type=int, default=SUGGESTIONS, metavar="N",
                       help=f"how many images to suggest labelling next (default {SUGGESTIONS})")
    teach.add_argument("--seed", type=int, default=0, help="seed for every random step (default 0)")
    teach.add_argument("--labeller", metavar="NAME", help="the labeller that predicts (default: the best measured "
                                                          "for the run's kind of data)")
    teach.add_argument("--compare", choices=("quick", "all", "none"), default="quick",
                       help="labellers compared when the data has true labels: those that train no network "
                            "(quick, the default), all (with the CNN: minutes), or none")
    teach.add_argument("--traceback", action="store_true", help="show the full traceback of unexpected errors")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "teach":
            return _teach(args)
        return _similar(args) if args.command == "similar" else _run(args)
    except UserInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.traceback:
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (rerun with --traceback for details)",
              file=sys.stderr)
        return 1


def _run(args) -> int:
    import warnings

    from core.run.config import RunConfig
    from core.run.engines import engine_for
    from core.run.folder import save_run
    from core.run.progress import Progress
    from core.run.stages import run_pipeline

    warnings.filterwarnings("ignore", category=UserWarning)  # third-party notes; errors are ours to say
    warnings.filterwarnings("ignore", category=FutureWarning)
    engine = engine_for(workers=args.workers, scheduler=args.scheduler)
    config = RunConfig(data=_absolute(args.data), train_data=_absolute(args.train_data), preset=args.preset,
                       epochs=args.epochs,
                       batch_size=args.batch_size, clusters=args.clusters, contamination=args.contamination,
                       seed=args.seed, method=args.method, fit_sample=args.fit_sample,
                       embeddings=_absolute(args.embeddings))
    progress = Progress()
    if not args.quiet:
        progress.listen(ProgressPrinter())
    from pathlib import Path

    out = Path(args.out)
    try:
        result = run_pipeline(config, progress=progress, engine=engine, model_path=str(out.resolve() / "model.keras"))
        with progress.run_stage("write"):
            save_run(result, out)
    finally:
        if engine is not None:
            engine.close()
    print(format_summary(result.metrics))
    print(f"wrote {out / 'results.csv'}, results.parquet, metrics.json and model.keras")
    return 0


def _teach(args) -> int:
    import warnings

    from core.labels.teach import teach_folder

    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    teaching = teach_folder(args.run, args.out, args.labels, args.suggest, args.seed, args.labeller, args.compare)
    if teaching.note:
        print(teaching.note, file=sys.stderr)
    metrics = teaching.metrics
    done = f"taught {metrics['n_taught']:,} images, {metrics['n_labels']} labels"
    if "labeller" in metrics:
        done += f"; {metrics['labeller']}"
    if metrics.get("accuracy") is not None:
        done += f": accuracy {metrics['accuracy']:.3f} (untaught images {metrics['accuracy_untaught']:.3f})"
    print(f"{done}; {metrics['seconds']['total']:.1f} s")
    written = ["suggestions.csv", *(["predictions.csv"] if teaching.predictions is not None else []), "metrics.json"]
    print(f"wrote {', '.join(str(Path(args.out) / name) for name in written)}")
    return 0


def _similar(args) -> int:
    """``python -m core similar``: only CSV on stdout; what it does, on stderr."""
    import warnings
    from pathlib import Path

    from core.data.load import load_train_and_analysis_sets
    from core.run.folder import read_run
    from core.run.lookup import RunSearch, check_takes_files
    from core.similar.search import query_image

    warnings.filterwarnings("ignore")  # third-party notes would go to stderr; errors are ours to say
    if args.top < 1:
        raise UserInputError(f"--top must be at least 1, got {args.top}")
    image = Path(args.image).expanduser()
    if not image.is_file():
        raise UserInputError(f"no such image file: '{args.image}'")
    data = image.read_bytes()
    folder = Path(args.run).expanduser()
    result = read_run(folder)
    check_takes_files(result)
    query_image(data, image.name, tuple(result.metrics["data"]["image_shape"]))  # said before the slow part
    print(f"... reading the run's {len(result.table):,} images", file=sys.stderr, flush=True)
    analysed = load_train_and_analysis_sets(result.config.data, result.config.train_data)[1]
    if len(analysed) != len(result.table) or not np.array_equal(analysed.ids[:10], result.table["id"][:10].astype(str)):
        raise UserInputError(f"the images at '{result.config.data}' are no longer the run's; run it again")

    def model():
        from core.model.autoencoder import Autoencoder

        print("... encoding the image with the run's model", file=sys.stderr, flush=True)
        return Autoencoder.load(folder / "model.keras")

    found = RunSearch(result, lambda positions: analysed.read(positions).images, model).like_file(
        data, image.name, args.top)
    found.table[["rank", "index", "id", "distance"]].to_csv(sys.stdout, index=False, float_format="%.6g")
    return 0


def _absolute(spec: str | None) -> str | None:
    """A data spec as recorded in the run: paths made absolute, so that the app can open the run."""
    from pathlib import Path

    from core.data.builtin import BUILTIN_SOURCES

    if spec is None or spec in BUILTIN_SOURCES or not Path(spec).expanduser().exists():
        return spec
    return str(Path(spec).expanduser().resolve())


class ProgressPrinter:
    """Stage starts, and finished epochs and chunks at most every ``interval`` seconds (and the
    last one), one line each, on stderr."""

    def __init__(self, interval: float = 3.0):
        self.interval, self.printed = interval, 0.0

    def __call__(self, progress, event: str) -> None:
        import time

        now = time.monotonic()
        if event == "stage":
            line = f"... {progress.describe()}"
        elif event == "epoch" and (now - self.printed >= self.interval or progress.epoch == progress.epochs):
            losses = ", ".join(f"{name} {values[-1]:.4f}" for name, values in progress.history.items() if values)
            line = f"    epoch {progress.epoch} of {progress.epochs}: {losses}"
        elif event == "chunk" and (now - self.printed >= self.interval or progress.chunks_done == progress.chunks):
            line = f"    chunk {progress.chunks_done} of {progress.chunks}"
        else:
            return
        self.printed = now
        print(line, file=sys.stderr, flush=True)


def format_summary(metrics: dict) -> str:
    """A short plain-text table of a run's data, timings and scores, and the comparison."""
    data, history = metrics["data"], metrics["history"]
    rows = [
        ("analysed", f"{data['analysed']}: {data['n_images']:,} images of "
                     f"{'x'.join(map(str, data['image_shape']))}"),
        ("trained on", f"{data['trained_on']}: {data['n_train_images']:,} images (fit sample {data['fit_sample']:,})"),
        *([("embeddings", Embeddings(**data["embeddings"], digest="").describe())] if "embeddings" in data else []),
        ("model", f"preset {metrics['model']['preset']}, latent size {metrics['model']['latent_size']}"),
        ("clusters", metrics["model"]["clusterer"]),
        ("anomaly score", metrics["model"]["scorer"]),
    ]
    if history.get("loss"):
        final = f"loss {history['loss'][-1]:.4f}"
        if history.get("val_loss"):
            final += f", val_loss {history['val_loss'][-1]:.4f}"
        rows.append((f"after {len(history['loss'])} epochs", final))
    rows.append(("seconds", ", ".join(f"{k} {v:.1f}" for k, v in metrics["seconds"].items() if " " not in k)))
    if "clustering" in metrics:
        rows.append(("clustering", ", ".join(f"{k} {v:.3f}" for k, v in metrics["clustering"].items())))
    for method, scores in metrics.get("anomaly", {}).items():
        rows.append((f"anomaly ({method})", ", ".join(f"{k} {v:.3f}" for k, v in scores.items())))
    comparison = metrics.get("comparison", {})
    if comparison:
        rows.append(("compared", f"every method on {data['compared']:,} images of the fit sample:"))
    stand_ins = metrics.get("model", {}).get("stand_ins", {})
    for row in comparison.get("clustering", []):
        used = stand_ins.get(row["method"])
        reason = stand_in_reason(row["method"], used, metrics["model"].get("representation", "pixels")) if used else ""
        note = f" (as {used}: {reason})" if used else ""
        rows.append((f"  {row['method']}",
                     f"accuracy {row['accuracy']:.3f}, nmi {row['nmi']:.3f}, ari {row['ari']:.3f}{note}"))
    for row in comparison.get("anomaly", []):
        rows.append((f"  {row['method']}", f"auroc {row['auroc']:.3f}, average precision {row['average_precision']:.3f}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

