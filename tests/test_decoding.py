"""Per-request decode settings: defaults, overrides, the policies, and that they are values."""

import dataclasses

import pytest

from nmt.config import DecodeConfig
from nmt.decoding import decode_settings


def test_defaults_come_from_the_model_and_overrides_make_new_values():
    defaults = DecodeConfig(beam_size=4, length_penalty=0.8, beam_prune=2.0)
    plain = decode_settings(defaults, 50)
    assert (plain.beam_size, plain.n_best, plain.search.length_penalty) == (4, 1, 0.8)
    assert plain.max_source_tokens == 50 and plain.token_budget == defaults.token_budget
    changed = decode_settings(defaults, 50, stopping="exact", max_source_tokens=9, beam_size=None)
    assert changed.search.stopping == "exact" and changed.max_source_tokens == 9
    assert changed.beam_size == 4  # None keeps the default
    assert defaults == DecodeConfig(beam_size=4, length_penalty=0.8, beam_prune=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.search.beam_size = 2  # type: ignore[misc]


def test_equal_requests_give_equal_hashable_settings():
    a = decode_settings(DecodeConfig(), 100, beam_size=3)
    b = decode_settings(DecodeConfig(), 100, beam_size=3)
    assert a == b and hash(a.search) == hash(b.search)  # one compiled search for both
    assert a.search != decode_settings(DecodeConfig(), 100, beam_size=2).search
    # text handling is not part of the search: same search, same compiled graph
    c = decode_settings(DecodeConfig(), 100, beam_size=3, complete_end_mark=False)
    assert c != a and c.search == a.search


def test_the_policies():
    defaults = DecodeConfig(beam_size=2, beam_prune=2.5)
    widened = decode_settings(defaults, 100, n_best=4)
    assert (widened.beam_size, widened.n_best) == (4, 4)  # the default beam widens
    cut = decode_settings(defaults, 100, beam_size=3, n_best=5)
    assert (cut.beam_size, cut.n_best) == (3, 3)  # a beam asked for cuts the list
    assert widened.search.beam_prune == 0.0  # n-best lists are searched unpruned
    assert decode_settings(defaults, 100).search.beam_prune == 2.5
    assert decode_settings(defaults, 100, with_attention=True).search.with_attention
    no_attention = decode_settings(defaults, 100, has_attention=False, with_attention=True)
    assert not no_attention.search.with_attention


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"beam": 3}, "unknown decode setting"),
        ({"beam_size": 0}, "must be >= 1"),
        ({"n_best": 0}, "must be >= 1"),
        ({"stopping": "never"}, "stopping must be one of"),
        ({"beam_prune": -1.0}, "beam pruning must be >= 0"),
        ({"max_source_tokens": 0}, "max source tokens"),
    ],
)
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        decode_settings(DecodeConfig(), 100, **overrides)
