"""The near-duplicate index: stored samples, reservations that give way or expire, the closest match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from destilation_validators.near_index import NearIndex
from destilation_validators.shingles import jaccard, shingles

BASE = (
    "the quick brown fox jumps over the lazy dog while the farmer sleeps in the warm afternoon sun "
    "and the children of the village walk down to the river to watch the boats drift slowly past "
    "the old mill where bread was baked for a hundred years"
)
ONE_WORD_CHANGED = BASE.replace("farmer", "miller")
OTHER = "a completely different sentence about compound interest and how banks pay savers every month"


def test_a_near_copy_is_found_with_its_task_and_similarity() -> None:
    index = NearIndex(0.7, 128)
    index.add_stored(4, index.signature(shingles(BASE, 3)))
    match = index.closest(index.signature(shingles(ONE_WORD_CHANGED, 3)), exclude=-1, now=0.0)
    assert match is not None and match.task_index == 4 and match.stored
    exact = jaccard(shingles(BASE, 3), shingles(ONE_WORD_CHANGED, 3))
    assert abs(match.similarity - exact) < 0.15
    assert index.closest(index.signature(shingles(OTHER, 3)), exclude=-1, now=0.0) is None


def test_the_closest_of_several_matches_wins_and_a_task_never_matches_itself() -> None:
    index = NearIndex(0.5, 128)
    index.add_stored(1, index.signature(shingles(ONE_WORD_CHANGED, 3)))
    index.add_stored(2, index.signature(shingles(BASE, 3)))
    probe = index.signature(shingles(BASE, 3))
    match = index.closest(probe, exclude=-1, now=0.0)
    assert match is not None and (match.task_index, match.similarity) == (2, 1.0)
    other = index.closest(probe, exclude=2, now=0.0)
    assert other is not None and other.task_index == 1


def test_a_reservation_blocks_until_it_expires() -> None:
    index = NearIndex(0.7, 128)
    index.reserve(7, index.signature(shingles(BASE, 3)), until=10.0)
    probe = index.signature(shingles(ONE_WORD_CHANGED, 3))
    match = index.closest(probe, exclude=-1, now=9.0)
    assert match is not None and match.task_index == 7 and not match.stored
    assert index.closest(probe, exclude=-1, now=10.0) is None
    assert len(index) == 0


def test_the_stored_sample_replaces_its_reservation_for_good() -> None:
    index = NearIndex(0.7, 128)
    index.reserve(7, index.signature(shingles(OTHER, 3)), until=10.0)
    index.add_stored(7, index.signature(shingles(BASE, 3)))
    index.reserve(7, index.signature(shingles(OTHER, 3)), until=10.0)  # a late candidate of a stored task
    assert len(index) == 1
    match = index.closest(index.signature(shingles(ONE_WORD_CHANGED, 3)), exclude=-1, now=99.0)
    assert match is not None and match.task_index == 7 and match.stored


def test_a_new_candidate_of_a_task_replaces_its_reservation() -> None:
    index = NearIndex(0.7, 128)
    index.reserve(3, index.signature(shingles(BASE, 3)), until=10.0)
    index.reserve(3, index.signature(shingles(OTHER, 3)), until=10.0)
    assert len(index) == 1
    assert index.closest(index.signature(shingles(BASE, 3)), exclude=-1, now=0.0) is None


VOCAB = [f"w{i}" for i in range(30)]
docs = st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=25), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(docs, st.integers(min_value=0, max_value=11), st.floats(min_value=0.3, max_value=0.95))
def test_matches_are_above_the_threshold_never_the_excluded_task_and_copies_are_found(
    texts: list[list[str]], pick: int, threshold: float
) -> None:
    index = NearIndex(threshold, 128)
    grams = [shingles(" ".join(words), 2) for words in texts]
    for task, gram in enumerate(grams):
        index.add_stored(task, index.signature(gram))
    probe = grams[pick % len(grams)]
    exclude = pick % len(grams)
    match = index.closest(index.signature(probe), exclude=exclude, now=0.0)
    if match is not None:
        assert match.task_index != exclude and match.similarity >= threshold and match.stored
    twins = [t for t, g in enumerate(grams) if g == probe and t != exclude]
    if twins:  # an identical shingle set has an identical signature: always found, at 1.0
        assert match is not None and match.similarity == 1.0
