"""The behaviour runner judges each case with the served model's answers, names labels with the bundle's
manifest labels, and reports a pass rate per capability."""

from __future__ import annotations

import pytest

from chalice_app.chalicelib.api.predictor import Prediction, Predictor
from export.behaviour.cases import BehaviourConfigError, Case, generate, load_config, parse_config
from export.behaviour.run import judge, run_behaviour, summary_lines
from tests.support.constant_bundle import write_constant_bundle

LABELS = ("no", "yes")  # not the data config's names: the runner must take the manifest's


def answer(label: str, yes: float) -> Prediction:
    probabilities = {"no": 1 - yes, "yes": yes}
    return Prediction(label, probabilities[label], probabilities, 3, 3, False, 0.0)


class TestJudge:
    def test_mft_passes_when_the_expected_class_is_answered(self) -> None:
        case = Case("mft_word_order", "mft", ("Sue the book liked.",), expect=0)
        assert judge(case, [answer("no", 0.2)], LABELS) is None
        assert judge(case, [answer("yes", 0.7)], LABELS) == {
            "texts": ["Sue the book liked."],
            "expected": "no",
            "got": "yes (0.700)",
        }

    def test_invariance_passes_when_both_sentences_get_the_same_label(self) -> None:
        case = Case("inv_names", "invariance", ("John left.", "Mary left."))
        assert judge(case, [answer("yes", 0.9), answer("yes", 0.6)], LABELS) is None
        failure = judge(case, [answer("yes", 0.9), answer("no", 0.4)], LABELS)
        assert failure is not None
        assert failure["got"] == "yes, no"

    def test_directional_passes_only_when_the_class_probability_falls(self) -> None:
        case = Case("dir_deletion", "directional", ("John took the box.", "John took."), falls=1)
        assert judge(case, [answer("yes", 0.9), answer("yes", 0.6)], LABELS) is None
        assert judge(case, [answer("yes", 0.6), answer("yes", 0.6)], LABELS) is not None  # unchanged is a failure
        failure = judge(case, [answer("no", 0.3), answer("yes", 0.8)], LABELS)
        assert failure == {
            "texts": ["John took the box.", "John took."],
            "expected": "P(yes) below 0.300",
            "got": "0.800",
        }


@pytest.fixture(scope="module")
def always_yes(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """The real predictor on a bundle whose model answers class 1 ("yes") for every sentence."""
    bundle = tmp_path_factory.mktemp("constant") / "bundle"
    write_constant_bundle(bundle, logits=(-1.0, 1.0), labels=list(LABELS))
    return Predictor(bundle)


def test_a_constant_model_fails_every_case_that_needs_it_to_tell_sentences_apart(always_yes: Predictor) -> None:
    report = run_behaviour(load_config(), always_yes)
    rates = {name: cap["pass_rate"] for name, cap in report["capabilities"].items()}
    assert rates == {
        "mft_well_formed": 1.0,
        "mft_word_order": 0.0,
        "mft_agreement": 0.0,
        "mft_missing_argument": 0.0,
        "inv_names": 1.0,
        "inv_numbers": 1.0,
        "inv_nouns": 1.0,
        "dir_deletion": 0.0,
    }
    assert report["n_cases"] == len(generate(load_config()))


def test_the_report_names_labels_with_the_manifest_and_keeps_a_few_failures(always_yes: Predictor) -> None:
    config = load_config()
    report = run_behaviour(config, always_yes)
    word_order = report["capabilities"]["mft_word_order"]
    assert (word_order["n"], word_order["passed"], word_order["test"]) == (config.cases_per_capability, 0, "mft")
    assert len(word_order["failures"]) == config.failures_kept
    assert {f["expected"] for f in word_order["failures"]} == {"no"}
    assert all(f["got"].startswith("yes ") for f in word_order["failures"])
    lines = summary_lines(report)
    assert len(lines) == len(report["capabilities"])
    assert "mft_word_order" in lines[1]
    assert "0.0%" in lines[1]


def test_a_class_the_bundle_does_not_have_is_refused(always_yes: Predictor) -> None:
    raw = {
        "seed": 1,
        "cases_per_capability": 1,
        "failures_kept": 1,
        "lexicon": {"name": ["John", "Mary"]},
        "capabilities": {"third": {"test": "mft", "expect": 2, "templates": ["{name} left."]}},
    }
    with pytest.raises(BehaviourConfigError, match="expects class 2, the bundle has 2 labels"):
        run_behaviour(parse_config(raw), always_yes)


def test_every_sentence_is_predicted_once(always_yes: Predictor, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    predict = always_yes.predict

    def counting(texts: list[str]) -> list[Prediction]:
        seen.extend(texts)
        return predict(texts)

    monkeypatch.setattr(always_yes, "predict", counting)
    run_behaviour(load_config(), always_yes)
    assert len(seen) == len(set(seen))
