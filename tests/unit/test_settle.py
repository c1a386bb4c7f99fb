"""A worker's heap, settled between runs: garbage collected, the rest frozen so that the next steps'
full collections skip it, and what was frozen before thawed and collected when it became garbage."""

import gc
import socket
import uuid
import weakref

import pytest

from tft_build.engine import heap, warm


class Cycle:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self):
        self.me = self


@pytest.fixture(autouse=True)
def thawed():
    yield
    gc.unfreeze()


def test_settling_freezes_what_lives_and_collects_garbage_even_frozen_before():
    garbage, kept = Cycle(), Cycle()
    was_garbage, was_kept = weakref.ref(garbage), weakref.ref(kept)
    del garbage
    heap.settle()
    assert was_garbage() is None and gc.get_freeze_count() > 0
    assert all(o is not kept for o in gc.get_objects())  # frozen: no generation holds it, no collection walks it
    frozen = gc.get_freeze_count()
    del kept  # garbage now, but frozen: the next settling thaws and collects it
    assert was_kept() is not None
    heap.settle()
    assert was_kept() is None
    assert gc.get_freeze_count() <= frozen


def listening():
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = b"\0tft_build-test-" + uuid.uuid4().hex.encode()
    listener.bind(name)
    listener.listen(1)
    return listener, name


def test_an_idle_worker_settles_its_heap_and_then_stops_waiting(monkeypatch):
    monkeypatch.setattr(warm, "SETTLE_SECONDS", 0.05)
    gc.unfreeze()
    listener, _ = listening()
    with listener:
        assert warm.next_connection(listener, 0.2) is None
    assert gc.get_freeze_count() > 0


def test_a_connection_that_comes_in_time_is_served_before_any_settling(monkeypatch):
    monkeypatch.setattr(warm, "SETTLE_SECONDS", 5.0)
    gc.unfreeze()
    listener, name = listening()
    with listener, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(name)
        conn = warm.next_connection(listener, 10.0)
        assert conn is not None
        conn.close()
    assert gc.get_freeze_count() == 0


def test_a_process_settles_once_for_its_steps(monkeypatch):
    monkeypatch.setattr(heap, "_settled", False)
    gc.unfreeze()
    heap.settle_once()
    assert gc.get_freeze_count() > 0
    later = Cycle()
    heap.settle_once()  # already settled: the later object stays in the collections
    assert any(o is later for o in gc.get_objects())
