"""Where code that moved used to be, so that configs and user code naming it keep working.

Until tft_build had rooms, the taxi example and the code for any data sat
in flat modules: configs name ``tft_build.models:build_default_model`` or
``tft_build.rowfilter:keep_all``, and modules written by ``tft-tasks
init-config`` say ``from tft_build import generic``. The settings read a
former dotted path as the path it moved to (:func:`current_path`), and
``from tft_build import models`` still finds the module (``tft_build.__getattr__``).
"""

TAXI = "tft_build.examples.taxi"
# Former module -> the module that holds its public names now.
MODULES = {
    "tft_build.models": "tft_build.generic.models",
    "tft_build.preprocessing": f"{TAXI}.preprocessing",
    "tft_build.rowfilter": f"{TAXI}.rowfilter",
}
# Former dotted paths whose names went elsewhere than their module's (above).
PATHS = {
    "tft_build.models:build_non_embedding_model": f"{TAXI}.models:build_non_embedding_model",
    "tft_build.models:build_embedding_model": f"{TAXI}.models:build_embedding_model",
    "tft_build.rowfilter:keep_all": "tft_build.generic.rowfilter:keep_all",
    "tft_build.preprocessing:categorical": "tft_build.generic.preprocessing:categorical",
    "tft_build.preprocessing:parse_timestamp": "tft_build.generic.preprocessing:parse_timestamp",
    "tft_build.generic:preprocessing_fn": "tft_build.generic.preprocessing:preprocessing_fn",
}


def current_path(path: str) -> str:
    """The dotted path ``module:name`` as it is now: a former one translated, any other unchanged."""
    if path in PATHS:
        return PATHS[path]
    module, _, name = path.partition(":")
    return f"{MODULES[module]}:{name}" if module in MODULES else path
