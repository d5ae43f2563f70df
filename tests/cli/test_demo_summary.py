"""The demo's part-2 summary: table cells and the conclusion sentence
are computed from the runs, never fixed text."""

from keras_initplus.cli.demo import compare
from keras_initplus.cli.demo.command import (
    epoch_ranges,
    results_table,
    warning_cell,
)


def run(curve, alerts=(), clip_norm=None, target=0.9):
    raw = {
        "loss": [1.0] * len(curve),
        "val_accuracy": list(curve),
        "epochs_to_target": next(
            (i + 1 for i, v in enumerate(curve) if v >= target), None
        ),
        "final_accuracy": curve[-1],
        "diverged": False,
        "warnings": [],
        "alerts": [
            {"epoch": e, "kind": k, "measure": "m", "layers": ["mlp/h3"]}
            for e, k in alerts
        ],
    }
    return compare.summarize(raw, clip_norm=clip_norm, same_kernels=[])


def test_summarize_finds_a_fall_of_more_than_02_from_the_best():
    r = run([0.5, 0.95, 0.9, 0.7, 0.8])
    assert r["best_accuracy"] == 0.95 and r["collapsed"]
    assert abs(r["largest_fall"] - 0.25) < 1e-9
    assert not r["collapse_named"]
    assert not run([0.5, 0.95, 0.76, 0.96])["collapsed"]


def test_warning_cells_list_kind_epochs_and_layers():
    assert epoch_ranges([0, 1, 2, 5, 7, 8]) == "1-3,6,8-9"
    r = run([0.5, 0.95, 0.5], alerts=[(2, "collapse"), (0, "vanishing")])
    assert warning_cell(r) == "collapse ep 3 (h3); vanishing ep 1 (h3)"
    table = results_table({"lsuv": r}, 3, 0.9)
    assert "lsuv" in table and "0.950  0.500" in table and ">3" not in table
    # One entry per warning and fit, with every epoch it was raised at.
    r["alerts"] = [
        {"epoch": 0, "epochs": [0, 1, 4], "kind": "vanishing", "layers": ["a"]}
    ]
    assert warning_cell(r) == "vanishing ep 1-2,5 (a)"


def test_the_conclusion_is_computed_from_the_results():
    results = {
        "keras_he_normal": run([0.5, 0.95, 0.45], [(2, "collapse")]),
        "lsuv": run([0.6, 0.96, 0.5]),
        "initializer_for_depth": run([0.8, 0.97, 0.98]),
        "keras_he_normal+clip": run([0.5, 0.9, 0.93], clip_norm=1.0),
        "initializer_for_depth+clip": run([0.7, 0.95, 0.97], clip_norm=1.0),
    }
    text = compare.conclusion(
        results, {}, activation="relu", depth=20, target=0.9
    )
    assert text == (
        "2 of 5 runs fell more than 0.2 below their best validation "
        "accuracy (keras_he_normal and lsuv), 1 of them named by a "
        "collapse warning; the package's recipe, initializer_for('relu', "
        "depth=20) with clip_norm=1.0, reached 0.9 in 2 epochs and ended "
        "at 0.970 (best 0.970), against 0.980 for the initializer alone "
        "and 0.930 for clipping alone (HeNormal)."
    )
    results["lsuv"] = run([0.6, 0.96, 0.5], [(2, "collapse")])
    text = compare.conclusion(
        results, {}, activation="relu", depth=20, target=0.9
    )
    assert "each named by a collapse warning" in text
    del results["keras_he_normal"], results["lsuv"]
    text = compare.conclusion(
        results, {}, activation="relu", depth=20, target=0.9
    )
    assert text.startswith("No run of 3 fell more than 0.2")
