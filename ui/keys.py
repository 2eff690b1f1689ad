"""Session-state keys shared between files, defined once (widget keys double as session keys)."""

SELECTION = "selection"  # the sidebar's Selection (data, settings)
SELECTED = "selected"  # the images selected on a map or ticked in a gallery (sorted indices)
SELECTED_RUN = "selected-run"  # the run key the selection belongs to (None: the current run's)
FOCUS = "focus"  # the image last clicked or added to the selection, shown beside the map
GOOD_SELECTION = "good-selection"  # the last sidebar Selection whose data loaded: what the pages show meanwhile
LINKED_SELECTION = "linked-selection"  # a link's `sel`, checked against its run's images once the data is known
LINK_IGNORED = "link-ignored"  # the link's parameters that could not be used, said in one warning
LINK_APPLIED = "link-applied"  # the session's link was read into it
AUTORUN = "link-autorun"  # a link named data: train its run unless stored
LINKED_UPLOAD = "linked-upload"  # the upload a link (or an earlier upload) names
LINKED_EMBEDDINGS = "linked-embeddings"  # the embeddings upload kept while the uploader is redrawn empty

SOURCE = "source"
UPLOAD = "upload"
LOCAL_PATH = "local_path"
EMBEDDINGS_UPLOAD = "embeddings-upload"
EMBEDDINGS_PATH = "embeddings-path"
EMBEDDINGS_FORGET = "embeddings-forget"
PRESET = "preset"
CLUSTERS = "clusters"
CONTAMINATION = "contamination"
SEED = "seed"
MAP_COLOUR = "map_colour"
THUMBNAILS = "thumbnails"

FILTER_CLUSTERS = "filter-clusters"
FILTER_LABELS = "filter-labels"
FILTER_GIVEN = "filter-given"
FILTER_SCORE = "filter-score"
FILTER_NAME = "filter-name"

RUNS_MESSAGE = "runs-message"
RUNS_OPEN = "runs-open"
CLI_RUN_FOLDER = "cli-run-folder"

LABELS_TARGET = "labels-target"
LABELS_NEW = "labels-new"
LABELS_UPLOAD = "labels-upload"
TEACHING = "teaching"  # {run key: the TeachingJob of its last round asked in this session}
TEACH_COLOUR = "teach-colour"  # the teaching map's colour: predicted label or confidence
TEACH_ACCEPT = "teach-accept"  # the confidence above which predictions are accepted


def method_key(preset: str) -> str:
    """The sidebar's Analysis widget for ``preset`` (each preset remembers its own)."""
    return f"method-{preset}"


def epochs_key(preset: str) -> str:
    return f"epochs-{preset}"


def batch_key(preset: str) -> str:
    return f"batch-{preset}"


def remembered(key: str) -> str:
    """The plain session key mirroring widget ``key`` across runs that do not draw it."""
    return f"remembered-{key}"
