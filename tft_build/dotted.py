"""Plug-in code named by dotted path: ``"package.module:function"``.

The config names ``preprocessing_fn``, the row filter and the model builders
this way, so users point it at their own module without editing the engine.
"""

import importlib
import importlib.util
import sys

from tft_build.errors import ConfigError


def resolve(path, setting, search_dir=None):
    """The object that ``path`` names; a one-line ConfigError if it does not resolve."""
    module_name, _, attr = path.partition(":")
    _on_path(search_dir)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"setting '{setting}': cannot import module '{module_name}' ({err})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"setting '{setting}': module '{module_name}' has no '{attr}'") from None


def module_file(path, search_dir=None):
    """The source file of the module that ``path`` names, without importing it."""
    _on_path(search_dir)
    module_name = path.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module_name)
    except ImportError:
        spec = None
    if spec is None or not spec.origin or not spec.has_location:
        raise ConfigError(f"cannot find module '{module_name}' (from {path!r})")
    return spec.origin


def _on_path(search_dir):
    """Let user modules beside the project (or config) import by plain name."""
    if search_dir is not None and str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
