"""A step process's heap, settled: garbage collected, the rest frozen out of Python's collections.

TensorFlow, TFT, Beam and Keras leave about half a million objects that live as long as the process.
Python's full collections walk every object, and a step triggers them: one took 0.3-0.4 s of a warm
transform or serving of the default data. Frozen (``gc.freeze``), those objects are left out of every
collection after, so a full collection during a step walks only what the steps made since.
"""

import gc

_settled = False  # whether this process has settled its heap since it imported the step libraries


def settle() -> None:
    """Collect the garbage, then freeze the objects left. Frozen objects are never collected, so
    what was frozen before is thawed and collected first: settling again (a warm worker between
    runs) frees what became garbage meanwhile."""
    global _settled
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _settled = True


def settle_once() -> None:
    """:func:`settle`, unless this process has already: the first step a process runs settles its
    heap once the step's libraries are imported, for the steps it runs after."""
    if not _settled:
        settle()
