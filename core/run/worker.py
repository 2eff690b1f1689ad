"""``python -m core.run.worker``: the app's training process (see ``core.run.jobs.RunQueue``).

Reads one JSON request per line on stdin ({"root", "key", "config"}: a run; {"teach": {"run", "out",
"labels", "seed", "suggest"}}: a round of teaching; or {"ping": true} answered once the imports are
done), runs it with :func:`train_in_worker` or :func:`teach_in_worker` (which write progress.json as
they go), and answers one JSON line on stdout: {"trained": bool}, or {"error": one line,
"user_error": bool}. Anything else that writes to stdout is sent to stderr, so the answers stay
readable. Ends when stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path


def train_in_worker(root: str, key: str, config) -> bool:
    """In the worker process: load the config's data, run and store it, writing progress.json as it
    goes. Returns True if it trained (False: it was stored already)."""
    from core.data.load import load_train_and_analysis_sets
    from core.errors import UserInputError
    from core.run.jobs import PROGRESS_FILE, ProgressFile
    from core.run.progress import Progress
    from core.run.store import RunStore

    store = RunStore(root)
    if store.has(key):
        return False
    folder = store.folder(key)
    folder.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    progress.listen(ProgressFile(folder / PROGRESS_FILE))
    try:
        train_set, analysis_set = load_train_and_analysis_sets(config.data, config.train_data,
                                                               embeddings=config.embeddings)
        return store.train(key, config, train_set, analysis_set, progress=progress)
    except Exception as error:
        progress.finish(str(error) if isinstance(error, UserInputError) else f"{type(error).__name__}: {error}")
        raise


def teach_in_worker(run: str, out: str, labels: str | None, seed: int = 0, suggest: int = 20) -> bool:
    """In the worker process: one round of teaching on run folder ``run`` with the labels file
    ``labels`` (or none), written into ``out`` with its progress.json; the round is added to
    ``out``'s rounds.json (``core.labels.teach.record_round``). Returns True."""
    from core.errors import UserInputError
    from core.labels.teach import record_round, teach_folder
    from core.run.jobs import PROGRESS_FILE, ProgressFile
    from core.run.progress import Progress

    progress = Progress()
    progress.listen(ProgressFile(Path(out) / PROGRESS_FILE))
    try:
        teaching = teach_folder(run, out, labels, suggest, seed, progress=progress)
    except Exception as error:
        progress.finish(str(error) if isinstance(error, UserInputError) else f"{type(error).__name__}: {error}")
        raise
    record_round(out, teaching.metrics)
    progress.finish()
    return True


def main() -> int:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)

    from core.errors import UserInputError
    from core.run import warmup
    from core.run.config import RunConfig

    warmup.import_everything()
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("ping"):  # "are your imports done?": they are, before the first line is read
            answers.write(json.dumps({"trained": False}) + "\n")
            continue
        try:
            answer = {"trained": teach_in_worker(**request["teach"]) if "teach" in request else
                      train_in_worker(request["root"], request["key"], RunConfig(**request["config"]))}
        except UserInputError as error:
            answer = {"error": str(error), "user_error": True}
        except Exception as error:  # reported to the page as one line; the worker goes on
            answer = {"error": f"{type(error).__name__}: {error}", "user_error": False}
        answers.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the app's process ended first: no one is left to answer
        sys.exit(0)
