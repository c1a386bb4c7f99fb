"""The eval data only measures: a build with other eval rows trains the same models."""

import csv

from support import NO_CACHE, make_project, ran


def predictions(project, model):
    with open(project.artifacts / "predictions" / f"{model}.csv", newline="") as f:
        return {row["key"]: row["prediction"] for row in csv.DictReader(f)}


def model_bytes(project, model):
    return (project.artifacts / "models" / model / "model.keras").read_bytes()


def same_prediction(new, old):
    """Equal up to float32 rounding: a row's prediction may change in its last digit with the number of
    rows served beside it (the batch's shape picks the kernel), not with the model."""
    return abs(float(new) - float(old)) <= 1e-5 * max(1.0, abs(float(old)))


def test_other_eval_rows_train_the_same_models(tmp_path):
    project = make_project(tmp_path / "honest", train_rows=400, eval_rows=120)
    project.env = NO_CACHE  # real training both times, not a restore
    project.doit()
    before = {model: predictions(project, model) for model in ("non_embedding", "embedding")}
    models = {model: model_bytes(project, model) for model in before}
    history = (project.artifacts / "models" / "embedding" / "history.json").read_text()
    eval_csv = project.root / "data" / "eval.csv"
    lines = eval_csv.read_text().splitlines(keepends=True)
    eval_csv.write_text("".join(lines[:1] + lines[1:60]))  # half the eval rows
    done = project.doit()
    assert {"train_non_embedding_model", "train_embedding_model"} <= ran(done.stdout)  # it did retrain
    for model, old in before.items():
        assert model_bytes(project, model) == models[model], model
        new = predictions(project, model)
        assert len(new) < len(old) and new.keys() <= old.keys(), model
        assert all(same_prediction(value, old[key]) for key, value in new.items()), model
    assert (project.artifacts / "models" / "embedding" / "history.json").read_text() == history
