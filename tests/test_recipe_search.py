import numpy as np
import pytest

from proglearn_supcon.experiments import recipe_search
from proglearn_supcon.runs.results import load_runs


def test_every_variant_gets_the_same_number_of_configurations():
    counts = {v: sum(v in variants for variants, _ in recipe_search.CONFIGS.values()) for v in recipe_search.VARIANTS}
    assert len(set(counts.values())) == 1, counts


@pytest.mark.slow
def test_search_runs_only_the_held_out_shift_and_summarises(tmp_path, monkeypatch, capsys, blob_images):
    from proglearn_supcon.datasets import Task
    from proglearn_supcon.experiments import sequence

    X, y = blob_images([0, 1], 20, seed=0)
    Xt, yt = blob_images([0, 1], 10, seed=1)
    shifts = []

    def fake_sequence(name, shift, **kwargs):
        shifts.append(shift)
        return [Task(task_id=0, X_train=X, y_train=y, X_test=Xt, y_test=yt, classes=np.array([0, 1]))]

    monkeypatch.setattr(sequence, "task_sequence", fake_sequence)
    monkeypatch.setattr(
        recipe_search,
        "CONFIGS",
        {
            "base": (("supcon", "ce"), {"epochs": 2}),
            "loss rule": (("supcon", "ce"), {"epochs": 2, "early_stopping": "loss"}),
        },
    )
    code = recipe_search.main(["run", "--out", str(tmp_path), "--slots", "1", "--n-tasks", "1", "--n-jobs", "1"])
    assert code == 0 and set(shifts) == {6}
    (run,) = load_runs(tmp_path / "loss_rule", "ce")
    assert run.config["network_params"]["early_stopping"] == "loss" and run.shift == 6
    out = capsys.readouterr().out
    assert "| loss rule | ce | 1 |" in out and "best for supcon" in out
