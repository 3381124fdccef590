"""Tests of the held-out dose-response (proglearn_supcon.experiments.dose_response)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proglearn_supcon.experiments import dose_response
from proglearn_supcon.runs.results import load_runs


def test_default_settings_turn_one_knob_per_loss():
    args = dose_response.build_parser().parse_args([])
    settings = dose_response.settings_of(args)
    assert [s.name for s in settings if s.variant == "supcon"] == [
        f"supcon_temperature_{t}" for t in ("0.05", "0.1", "0.2", "0.5", "1")
    ]
    assert [s.value for s in settings if s.variant == "ce"] == [0.0, 0.05, 0.1, 0.2, 0.4]
    assert {s.knob for s in settings if s.variant == "ce"} == {"label_smoothing"}
    assert (args.shift, args.n_tasks, args.slots) == (6, 4, "1-3")


def test_refuses_a_reported_shift_and_bad_settings_before_any_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dose_response.experiment, "main", lambda argv: pytest.fail("no run may start"))
    assert dose_response.main(["--shift", "3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon dose-response: error: --shift 3 is not the held-out shift 6")
    assert err.count("\n") == 1
    assert dose_response.main(["--label-smoothings", "0.1", "1.0", "--out", str(tmp_path)]) == 2
    assert "ce_label_smoothing_1: label_smoothing" in capsys.readouterr().err
    assert dose_response.main(["--temperatures", "0", "--variant", "supcon", "--out", str(tmp_path)]) == 2
    assert "temperature" in capsys.readouterr().err
    argv = ["--shift", "3", "--allow-reported-shift", "--no-run", "--out", str(tmp_path)]
    assert dose_response.main(argv) == 0  # allowed, and nothing to tabulate yet
    assert "no dose-response results" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        dose_response.main(["--slots", "3-1"])


def synthetic_table(slopes, offset, noise=0.0) -> pd.DataFrame:
    """Runs on 3 slots with their own levels; y = level + slope_slot * x (+ offset for supcon)."""
    rng = np.random.default_rng(0)
    rows = []
    for slot, slope in enumerate(slopes):
        level = 0.2 + 0.1 * slot  # a run-to-run difference the fit must not read as an effect of x
        for variant, xs in (("supcon", [250.0, 270.0, 300.0, 320.0]), ("ce", [280.0, 300.0, 310.0, 340.0])):
            for x in xs:
                y = level + slope * x + (offset if variant == "supcon" else 0.0) + noise * rng.normal()
                rows.append(
                    {"variant": variant, "slot": slot, "effective_rank_other": x + 5 * slot, "cross_accuracy": y}
                )
    return pd.DataFrame(rows)


def test_fit_relation_recovers_known_slopes_with_intervals_over_runs():
    table = synthetic_table([0.001, 0.002, 0.003], offset=0.03)
    fit = dose_response.fit_relation(table).set_index(["model", "term"])
    half = 4.302652729911275 * 0.001 / np.sqrt(3)  # t_{0.975, 2} * sd of the 3 runs' slopes / sqrt(3)
    for model in ("supcon", "ce", "pooled"):
        row = fit.loc[(model, "slope")]
        assert row.estimate == pytest.approx(0.002)
        assert (row.ci_low, row.ci_high) == pytest.approx((0.002 - half, 0.002 + half))
        assert row.n_clusters == 3
    offset = fit.loc[("pooled", "offset_supcon_minus_ce")]
    assert (offset.estimate, offset.ci_low, offset.ci_high) == pytest.approx((0.03, 0.03, 0.03))
    assert fit.loc[("pooled", "slope"), "n_points"] == 24 and fit.loc[("ce", "slope"), "n_points"] == 12
    assert list(fit.columns) == list(dose_response.FIT_COLUMNS)[2:]


def test_fit_relation_without_enough_points_is_nan():
    table = synthetic_table([0.002, 0.002, 0.002], offset=0.0)
    one_setting = table.groupby(["variant", "slot"]).head(1)  # one x per run: no slope within a run
    fit = dose_response.fit_relation(one_setting)
    assert fit["estimate"].isna().all() and (fit["n_clusters"] == 0).all()
    only_ce = dose_response.fit_relation(table[table.variant == "ce"])
    assert list(only_ce["model"]) == ["ce"]  # no pooled model with one loss


@pytest.mark.slow
def test_tiny_end_to_end_runs_resumes_tabulates_fits_and_plots(tmp_path, capsys):
    argv = [
        "--out",
        str(tmp_path),
        "--dataset",
        "digits",
        "--n-tasks",
        "2",
        "--slots",
        "0-1",
        "--epochs",
        "1",
        "--temperatures",
        "0.1",
        "0.5",
        "--label-smoothings",
        "0",
        "0.2",
        "--n-jobs",
        "1",
        "--device",
        "cpu",
    ]
    assert dose_response.main(argv) == 0
    for folder, variant, knob, value in (
        ("supcon_temperature_0.1", "supcon", "temperature", 0.1),
        ("ce_label_smoothing_0.2", "ce", "label_smoothing", 0.2),
    ):
        runs = load_runs(tmp_path / folder, variant)
        assert [(r.shift, r.slot) for r in runs] == [(6, 0), (6, 1)]
        assert all(r.config["network_params"][knob] == value and r.diagnostics is not None for r in runs)
    table = pd.read_csv(tmp_path / "dose_response.csv")
    assert list(table.columns) == list(dose_response.TABLE_COLUMNS) and len(table) == 8
    assert set(table.setting) == {
        "supcon_temperature_0.1",
        "supcon_temperature_0.5",
        "ce_label_smoothing_0",
        "ce_label_smoothing_0.2",
    }
    # A row is its run's diagnostics, reduced: cross-task accuracy is the transfer matrix off its diagonal.
    run = load_runs(tmp_path / "ce_label_smoothing_0", "ce")[1]
    row = table[(table.setting == "ce_label_smoothing_0") & (table.slot == 1)].iloc[0]
    matrix = run.diagnostics.transfer_matrix
    assert row.cross_accuracy == pytest.approx((matrix[0, 1] + matrix[1, 0]) / 2)
    assert row.effective_rank_other == pytest.approx(
        np.mean([run.diagnostics.geometry["effective_rank"][0, 1], run.diagnostics.geometry["effective_rank"][1, 0]])
    )
    assert row.effective_rank_ceiling_own == run.n_test_per_task - 1 and (row.space, row.split) == ("encoder", "test")
    assert row.final_accuracy == pytest.approx(np.mean(run.accuracy[-1]))
    assert np.isfinite(table[["fte", "bte", "own_accuracy", "forward_accuracy", "backward_accuracy"]]).all().all()
    fit = pd.read_csv(tmp_path / "dose_response_fit.csv")
    assert list(fit.model) == ["supcon", "ce", "pooled", "pooled"] and (fit.n_clusters == 2).all()
    assert (tmp_path / "dose_response.png").stat().st_size > 0
    capsys.readouterr()
    # A rerun trains nothing, and another view of the same runs is one option away.
    assert dose_response.main([*argv, "--space", "projection", "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert out.count("2 of 2 runs already finished") == 4
    projected = pd.read_csv(tmp_path / "dose_response.csv")
    assert set(zip(projected.space, projected.split)) == {("projection", "train")}
    assert (projected.loc[projected.variant == "ce", "effective_rank_ceiling_own"] == 2).all()  # two logits
