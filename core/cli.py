"""The command line: ``python -m core run --data SPEC --out DIR [options]``.

Runs the whole pipeline headless and writes ``DIR/results.csv`` (one row per analysed image, in
input order: ``index,cluster,anomaly_score,reconstruction_error,map_x,map_y`` plus ``label`` when
the data has labels), ``DIR/metrics.json`` and ``DIR/model.keras``, then prints a summary table.
Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import UserInputError
from core.presets import PRESETS


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"error: {message} (see 'python -m core run --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m core", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    run = commands.add_parser("run", help="train, cluster, score and map one dataset")
    run.add_argument("--data", required=True, metavar="SPEC",
                     help="digits, mnist, fashion-mnist, or a path to an .npz, .zip or folder of images")
    run.add_argument("--train-data", metavar="SPEC", help="train on this source instead of --data")
    run.add_argument("--preset", choices=sorted(PRESETS), default="default", help="autoencoder design")
    run.add_argument("--epochs", type=int, help="training epochs (default: the preset's)")
    run.add_argument("--batch-size", type=int, help="images per training step (default: the preset's)")
    run.add_argument("--clusters", type=int, default=10, metavar="K", help="number of KMeans clusters")
    run.add_argument("--contamination", type=float, default=0.01,
                     help="expected share of anomalies; sets the flagging threshold (default 0.01)")
    run.add_argument("--method", choices=["default", "seed"],
                     help="analysis of the latent: default (UMAP-manifold clusters, kNN + reconstruction anomaly "
                          "score) or seed (KMeans, IsolationForest); default: seed for the seed preset, else default")
    run.add_argument("--seed", type=int, default=0, help="seed for every random step")
    run.add_argument("--out", required=True, metavar="DIR", help="folder for results.csv, metrics.json, model.keras")
    run.add_argument("--traceback", action="store_true", help="show the full traceback of unexpected errors")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
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
    from core.pipeline import RunConfig, run_pipeline, save_run

    config = RunConfig(data=args.data, train_data=args.train_data, preset=args.preset, epochs=args.epochs,
                       batch_size=args.batch_size, clusters=args.clusters,
                       contamination=args.contamination, seed=args.seed, method=args.method)
    result = run_pipeline(config, on_stage=lambda name: print(f"... {name}", file=sys.stderr, flush=True))
    out_dir = save_run(result, args.out)
    print(format_summary(result.metrics))
    print(f"wrote {out_dir / 'results.csv'}, metrics.json and model.keras")
    return 0


def format_summary(metrics: dict) -> str:
    """A short plain-text table of a run's data, timings and scores."""
    data, history = metrics["data"], metrics["history"]
    rows = [
        ("analysed", f"{data['analysed']}: {data['n_images']} images of {'x'.join(map(str, data['image_shape']))}"),
        ("trained on", f"{data['trained_on']}: {data['n_train_images']} images"),
        ("model", f"preset {metrics['model']['preset']}, latent size {metrics['model']['latent_size']}"),
    ]
    if history.get("loss"):
        final = f"loss {history['loss'][-1]:.4f}"
        if history.get("val_loss"):
            final += f", val_loss {history['val_loss'][-1]:.4f}"
        rows.append((f"after {len(history['loss'])} epochs", final))
    rows.append(("seconds", ", ".join(f"{k} {v:.1f}" for k, v in metrics["seconds"].items())))
    if "clustering" in metrics:
        rows.append(("clustering", ", ".join(f"{k} {v:.3f}" for k, v in metrics["clustering"].items())))
    for method, scores in metrics.get("anomaly", {}).items():
        rows.append((f"anomaly ({method})", ", ".join(f"{k} {v:.3f}" for k, v in scores.items())))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
