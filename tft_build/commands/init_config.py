"""``tft-tasks init-config``: a project skeleton inferred from a sample of the user's CSV.

It reads the first rows of the training CSV and infers from them whether the
file has a header, each column's type and whether it may be missing, the
objective and a key column (:mod:`tft_build.config.infer`), then writes into
the project dir a ``tft_build.toml`` with those settings, a ``my_pipeline.py``
with a ``preprocessing_fn`` and row filter spelled out column by column, and
a ``dodo.py`` (their text: :mod:`tft_build.config.render`), so that ``doit``
runs as is. Everything it decides is printed, so the user knows what to check
and edit.

Only the standard library (and ``tabulate`` for the summary) is imported: the
command must start fast, without TensorFlow.
"""

import argparse
import glob
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from tabulate import tabulate

from tft_build.config import infer, render
from tft_build.config.settings import PROJECT_CONFIG
from tft_build.errors import ConfigError, DataError, TftBuildError
from tft_build.io.atomic import write_file_atomic

PROG = "tft-tasks init-config"


def existing_files(pattern: str) -> list[str]:
    """The sorted existing files a local path or glob names; a one-line error when there are none.

    Unlike :func:`tft_build.config.settings.matching_files`, which lists what
    the configured patterns match, local or remote, this checks the command's
    arguments: init-config reads its sample with ``open``.
    """
    if glob.has_magic(pattern):
        files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
        if not files:
            raise DataError(f"no file matches {pattern!r}")
        return files
    if not os.path.isfile(pattern):
        raise DataError(f"{pattern}: no such file")
    return [pattern]


def write_project(skeleton: render.Skeleton, directory: str | Path, force: bool) -> tuple[list[str], list[str]]:
    """Write the three files into ``directory``; ``(written, kept)`` file names.

    ``tft_build.toml`` is replaced only with ``force``; ``my_pipeline.py`` and
    ``dodo.py`` are the user's once they exist and are never replaced.
    """
    directory = Path(directory)
    if (directory / PROJECT_CONFIG).exists() and not force:
        raise ConfigError(f"{directory / PROJECT_CONFIG} exists; use --force to overwrite it")
    files = [
        (PROJECT_CONFIG, render.config_toml(skeleton), True),
        (render.PIPELINE_FILE, render.pipeline_module(skeleton), False),
        (render.DODO_FILE, render.DODO, False),
    ]
    written, kept = [], []
    for name, text, replace in files:
        if not replace and (directory / name).exists():
            kept.append(name)
        else:
            write_file_atomic(directory / name, text)
            written.append(name)
    return written, kept


def summary(
    skeleton: render.Skeleton, path: str, header_why: str, objective_why: str, directory: str | Path,
    written: Iterable[str], kept: Iterable[str],
) -> str:
    """The text printed at the end: the columns, the decisions, the files and what to run next."""
    s = skeleton
    roles = {s.label: "label", s.key_column: "key"}
    table = [
        (c.name, c.type, render.toml_value(c.default) if c.optional else "required",
         roles.get(c.name, f"feature ({infer.feature_kind(c)})"))
        for c in s.columns
    ]
    lines = [
        f"{path}: {s.row_count} sample rows, {len(s.columns)} columns",
        "",
        tabulate(table, headers=["column", "type", "default (if missing)", "role"]),
        "",
        f"header: {'yes' if s.header else 'no'} ({header_why})"
        + ("" if s.header_forced else '; header = "auto" decides it for each file'),
        f"objective: {s.objective} ({objective_why})",
        f"key column: {s.key_column or 'none'}",
    ]
    label = next(c for c in s.columns if c.name == s.label)
    if label.missing:
        lines.append(
            f"label: missing in {label.missing} of the {s.row_count} sample rows; "
            f"{render.PIPELINE_FILE}'s keep_row drops the rows without one, and the transform counts them"
        )
    if not render.features(s):
        lines.append(
            f"warning: no column is a feature (only the label{' and the key' if s.key_column else ''}); "
            f"add columns to the data, or the transform will refuse a pipeline without features"
        )
    if not s.eval_data:
        lines.append("eval data: none given, so the training data; point eval_data at held-out rows")
    lines.append(f"wrote: {', '.join(str(Path(directory) / n) for n in written)}")
    notes = {render.PIPELINE_FILE: f"; {PROJECT_CONFIG} names its preprocessing_fn and keep_row", render.DODO_FILE: ""}
    lines += [f"kept: {Path(directory) / name} (it exists{notes[name]})" for name in kept]
    lines += ["", "next:"]
    if os.path.abspath(directory) != os.path.abspath("."):
        lines.append(f"  cd {directory}")
    lines += ["  doit list --all   # the tasks", "  doit              # build everything"]
    return "\n".join(lines)


# --- the command -------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``tft-tasks init-config``."""
    result = argparse.ArgumentParser(
        prog=PROG,
        description=f"Infer the columns of a CSV and write a tft_build project ({PROJECT_CONFIG}, "
        f"{render.PIPELINE_FILE}, {render.DODO_FILE}) that runs as is with doit.",
    )
    result.add_argument("train_csv", metavar="TRAIN_CSV", help="the training data: a CSV file or a quoted glob")
    result.add_argument("--eval", metavar="EVAL_CSV", help="held-out data (file or glob); default: the training data")
    result.add_argument("--label", required=True, metavar="COL",
                        help="the column to predict (without a header: col_N or its 1-based number N)")
    result.add_argument("--dir", default=".", help="the project dir to write into (default: .)")
    result.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="whether the files have a header row (default: detect it)")
    result.add_argument("--sample-rows", type=int, default=10_000, metavar="N",
                        help="how many rows to infer the columns from (default: 10000)")
    result.add_argument("--force", action="store_true", help=f"overwrite an existing {PROJECT_CONFIG}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tft-tasks init-config``; the exit status (2 with a one-line error on bad input)."""
    args = parser().parse_args(argv)
    try:
        return _init(args)
    except TftBuildError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
    except OSError as err:
        message = f"{err.filename}: {err.strerror}" if err.filename else str(err)
        print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _init(args):
    """The command on parsed arguments; bad input raises :class:`TftBuildError`."""
    if args.sample_rows < 1:
        raise ConfigError(f"--sample-rows must be at least 1, got {args.sample_rows}")
    path = existing_files(args.train_csv)[0]
    if args.eval:
        existing_files(args.eval)
    rows = infer.sample_rows(path, args.sample_rows + 1)  # one more, in case the first is a header
    if args.header is None:
        header, header_why = infer.detect_header(rows)
    else:
        header, header_why = args.header, "--header" if args.header else "--no-header"
    sample = rows if header else rows[: args.sample_rows]
    try:
        columns = infer.infer_columns(sample, header)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    label = infer.find_label(columns, args.label.strip(), header)
    objective, objective_why = infer.choose_objective(label)
    label = infer.as_label(label, objective)
    columns = [label if c.name == label.name else c for c in columns]
    skeleton = render.Skeleton(
        source=render.config_path(path, args.dir),
        row_count=len(sample) - header,
        train_data=(render.config_path(args.train_csv, args.dir),),
        eval_data=(render.config_path(args.eval, args.dir),) if args.eval else None,
        header=header,
        header_forced=args.header is not None,
        columns=tuple(columns),
        label=label.name,
        objective=objective,
        key_column=infer.choose_key(columns, label.name, len(sample) - header),
    )
    written, kept = write_project(skeleton, args.dir, args.force)
    print(summary(skeleton, path, header_why, objective_why, args.dir, written, kept))
    return 0
