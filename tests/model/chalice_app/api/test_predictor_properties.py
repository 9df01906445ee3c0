"""Properties of the predictor over generated inputs: any unicode text gives a well-formed prediction, long text
is truncated to the serving length, batching never changes a text's prediction, and predictions are repeatable."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from chalice_app.chalicelib.api.predictor import Prediction, Predictor
from tests.support.labels import LABELS

MAX_CONTENT_TOKENS = 64 - 2  # serving max_length without [CLS] and [SEP]

PROPERTY = settings(max_examples=50, deadline=None)
LONG_INPUT = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.large_base_example, HealthCheck.data_too_large, HealthCheck.too_slow],
)

texts = st.text()
sentences = st.text(st.characters(codec="utf-8"), max_size=300) | st.from_regex(r"[A-Za-z ,.'?]{0,200}", fullmatch=True)


@pytest.fixture(scope="module")
def untruncated(smoke_bundle: Path) -> Tokenizer:
    """The serving tokenizer without truncation: how many tokens a text really has."""
    tokenizer = Tokenizer.from_file(str(smoke_bundle / "tokenizer.json"))
    tokenizer.no_truncation()
    return tokenizer


def check_well_formed(prediction: Prediction, text: str) -> None:
    probabilities = list(prediction.probabilities.values())
    assert list(prediction.probabilities) == list(LABELS)
    assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probabilities)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
    assert prediction.label in LABELS
    assert prediction.score == prediction.probabilities[prediction.label] == max(probabilities)
    assert prediction.n_chars == len(text)
    assert 0 <= prediction.n_tokens <= MAX_CONTENT_TOKENS
    assert 0.0 <= prediction.unknown_token_rate <= 1.0
    assert isinstance(prediction.truncated, bool)


@PROPERTY
@given(text=texts)
def test_any_unicode_text_gives_a_well_formed_prediction(predictor: Predictor, text: str) -> None:
    (prediction,) = predictor.predict([text])
    check_well_formed(prediction, text)


@LONG_INPUT
@given(text=st.text(min_size=2000, max_size=5000))
def test_long_text_is_cut_to_the_serving_length(predictor: Predictor, untruncated: Tokenizer, text: str) -> None:
    (prediction,) = predictor.predict([text])
    check_well_formed(prediction, text)
    real_tokens = len(untruncated.encode(text).ids) - 2
    assert prediction.truncated == (real_tokens > MAX_CONTENT_TOKENS)
    assert prediction.n_tokens == min(real_tokens, MAX_CONTENT_TOKENS)


@PROPERTY
@given(text=sentences)
def test_token_count_and_truncation_agree_with_the_tokenizer(
    predictor: Predictor, untruncated: Tokenizer, text: str
) -> None:
    (prediction,) = predictor.predict([text])
    real_tokens = len(untruncated.encode(text).ids) - 2
    assert prediction.truncated == (real_tokens > MAX_CONTENT_TOKENS)
    assert prediction.n_tokens == min(real_tokens, MAX_CONTENT_TOKENS)


@PROPERTY
@given(batch=st.lists(sentences, min_size=1, max_size=40))
def test_batching_does_not_change_any_prediction(fp32: Predictor, batch: list[str]) -> None:
    together = fp32.predict(batch)
    assert len(together) == len(batch)
    for text, prediction in zip(batch, together, strict=True):
        check_well_formed(prediction, text)  # in order: n_chars matches this text
        (alone,) = fp32.predict([text])
        np.testing.assert_allclose(
            [prediction.probabilities[n] for n in LABELS], [alone.probabilities[n] for n in LABELS], atol=1e-5
        )
        assert (prediction.n_tokens, prediction.truncated, prediction.unknown_token_rate) == (
            alone.n_tokens,
            alone.truncated,
            alone.unknown_token_rate,
        )


@PROPERTY
@given(batch=st.lists(texts, min_size=1, max_size=10))
def test_same_batch_same_predictions(predictor: Predictor, batch: list[str]) -> None:
    assert predictor.predict(batch) == predictor.predict(list(batch))
