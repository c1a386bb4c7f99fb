"""Beam's costs that repeat per call, paid once per object, and one paid for nothing: about 1.7 s of a
10 s transform.

Building and running the transform's pipeline, Beam (2.77):

- inspects every method of a DoFn for state and timer parameters
  (``userstate.get_dofn_specs``) two or three times per DoFn, about 1 s in all:
  the answer depends only on the DoFn's methods, so it is kept per DoFn
  object (by identity, as long as the object lives);
- builds a new argparse parser and parses the flags again on each
  ``PipelineOptions.view_as``, some 3,000 calls, about 0.8 s: a view keeps no
  values of its own (every view reads and writes the options' one shared
  dict), so the first view of each class is kept per options object;
- weighs each side input its in-process worker caches by walking the
  value's whole object graph (``objsize``), about 0.5 s of a transform of
  12,000 rows, for a cache that the local runner, one bundle per stage,
  hardly reads again: that cache is off (``STATE_CACHE_SIZE_MB = 0``; a side
  input is then read from the runner as it is iterated). A transform of
  1,000,000 rows took the same time either way (27.4 and 28.8 s off, 27.3
  and 29.4 s on).

None changes what the pipeline computes (the transform's outputs are the
same bytes; ``tests/unit/test_beamreuse.py`` checks both answers against
Beam's own, and that side inputs still arrive). :func:`install` is
idempotent and does nothing if Beam's internals moved.
"""

import functools
import weakref
from collections.abc import Callable
from typing import Any

from apache_beam.options import pipeline_options
from apache_beam.runners.portability.fn_api_runner import worker_handlers
from apache_beam.transforms import userstate


def install() -> None:
    """Put the reusing versions in place of Beam's (once per process)."""
    specs = getattr(userstate, "get_dofn_specs", None)
    if callable(specs) and not getattr(specs, "reused", False):
        userstate.get_dofn_specs = per_object(specs, copy=lambda found: (set(found[0]), set(found[1])))
    view_as = getattr(pipeline_options.PipelineOptions, "view_as", None)
    if callable(view_as) and not getattr(view_as, "reused", False):
        pipeline_options.PipelineOptions.view_as = per_object(view_as)
    if hasattr(worker_handlers, "STATE_CACHE_SIZE_MB"):
        worker_handlers.STATE_CACHE_SIZE_MB = 0  # read when the runner makes its in-process worker


def per_object(function: Callable[..., Any], copy: Callable[[Any], Any] = lambda found: found) -> Callable[..., Any]:
    """``function(obj, *key)``, computed once per live ``obj`` (by identity) and ``key``; ``copy`` makes
    what each caller gets of a kept answer."""
    kept: dict[int, tuple[weakref.ref, dict[tuple, Any]]] = {}

    @functools.wraps(function)
    def reusing(obj: Any, *key: Any) -> Any:
        place = id(obj)
        entry = kept.get(place)
        if entry is None or entry[0]() is not obj:
            try:
                ref = weakref.ref(obj, lambda _: kept.pop(place, None))
            except TypeError:  # an object that cannot be weakly referenced: nothing kept
                return function(obj, *key)
            entry = kept[place] = (ref, {})
        answers = entry[1]
        if key not in answers:
            answers[key] = function(obj, *key)
        return copy(answers[key])

    reusing.reused = True
    return reusing
