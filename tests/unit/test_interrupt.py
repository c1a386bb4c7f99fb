"""Ctrl-C is remembered: an interrupt that some code swallows is raised again."""

import os
import signal

import pytest

from tft_build.engine import interrupt


def test_a_swallowed_ctrl_c_is_raised_again_at_the_next_check():
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever started pytest
    with interrupt.remembered():
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:  # what TensorFlow's finalizers do: except: pass
            pass
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    interrupt.check()  # forgotten once the run is over
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, before)


def test_without_ctrl_c_checks_pass():
    with interrupt.remembered():
        interrupt.check()


def test_a_ctrl_c_lost_in_a_weakref_callback_prints_no_traceback(capsys):
    import sys

    with interrupt.remembered():
        sys.unraisablehook(type("Info", (), {"exc_type": KeyboardInterrupt, "exc_value": KeyboardInterrupt(),
                                             "exc_traceback": None, "err_msg": None, "object": None})())
    assert capsys.readouterr().err == ""


def test_an_error_caused_by_ctrl_c_is_kept_quiet_but_others_reach_the_hook(monkeypatch):
    import sys

    def info(error):
        return type("Info", (), {"exc_type": type(error), "exc_value": error, "exc_traceback": None,
                                 "err_msg": None, "object": None})()

    reached = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reached.append(unraisable.exc_value))
    caused = SystemError("<built-in function __import__> returned a result with an exception set")
    caused.__cause__ = KeyboardInterrupt()
    other = ValueError("a real one")
    with interrupt.remembered():
        sys.unraisablehook(info(caused))
        sys.unraisablehook(info(other))
    assert reached == [other]
