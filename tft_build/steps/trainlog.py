"""What training tells people while it runs: one line per epoch, and TensorBoard's logs.

Keras' own lines (two per epoch, every metric spelled out) are too long to
follow for two models; :class:`EpochLines` prints one short line per epoch,
with a progress bar over the epoch's batches when stdout is a terminal, and
nothing with ``doit -q`` (:mod:`tft_build.engine.progress`).

:func:`tensorboard_logs` gives tf_keras' TensorBoard callback (the epoch
scalars of the training and validation rows, the model's graph) a staging
dir that replaces ``artifacts/tensorboard/<model>/`` only when training
succeeded. Event files hold wall times and the host's name, so they are
never part of the model's digest: a rerun writes new ones, and the build
cache keeps those of the build it stored. ``tensorboard --logdir
artifacts/tensorboard`` shows them (tensorboard, a dependency, also implements
``tf.summary.scalar``).
"""

import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import tf_keras as keras

from tft_build import layout
from tft_build.engine import progress
from tft_build.io.atomic import atomic_dir

if TYPE_CHECKING:
    from tft_build.config.settings import Config

BAR_WIDTH = 20
BAR_SECONDS = 0.2  # between two redraws of the terminal's progress bar


@contextlib.contextmanager
def tensorboard_logs(cfg: "Config", model_name: str) -> Iterator[keras.callbacks.TensorBoard]:
    """A TensorBoard callback writing into a staging dir that replaces the model's log dir when the block
    succeeds (and is removed when it fails): per-epoch scalars of both sets and the graph, no profile."""
    with atomic_dir(cfg.artifact(layout.TENSORBOARD, model_name)) as staging:
        yield keras.callbacks.TensorBoard(log_dir=str(staging), write_graph=True, update_freq="epoch",
                                          profile_batch=0)


class EpochLines(keras.callbacks.Callback):
    """``embedding epoch 3/30: loss 7.812, rmse 2.795 | validation loss 8.104, rmse 2.847 | lr 0.001``."""

    def __init__(self, model_name: str, epochs: int, terminal: bool | None = None) -> None:
        super().__init__()
        self.model_name, self.epochs = model_name, epochs
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self.bar = progress.Throttle(BAR_SECONDS)
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.terminal and not progress.quiet() and self.bar.due():
            sys.stdout.write(f"\r{self.prefix()} {bar(batch + 1, self.params.get('steps'))}")
            sys.stdout.flush()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.terminal and not progress.quiet():
            sys.stdout.write("\r\033[K")  # the bar's line, cleared for the epoch's
        progress.say(f"{self.prefix()}: {epoch_figures(logs or {})}")

    def prefix(self) -> str:
        return f"{self.model_name} epoch {self.epoch + 1}/{self.epochs}"


def epoch_figures(logs: Mapping[str, Any]) -> str:
    """The figures of an epoch's logs: training's, validation's, then the learning rate."""
    train = {k: v for k, v in logs.items() if not k.startswith("val_") and k != "lr"}
    validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
    parts = [figures(train)] + ([f"validation {figures(validation)}"] if validation else [])
    if "lr" in logs:
        parts.append(f"lr {float(logs['lr']):.3g}")
    return " | ".join(parts)


def figures(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {float(value):.4g}" for name, value in values.items())


def bar(done: int, total: int | None) -> str:
    """``[=====>              ] 25/100``; a count alone while the epoch's length is unknown (the first)."""
    if not total:
        return f"batch {done}"
    filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
    return f"[{'=' * filled}{'>' if filled < BAR_WIDTH else ''}{' ' * (BAR_WIDTH - filled - 1)}] {done}/{total}"
