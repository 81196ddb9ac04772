"""The near-duplicate index of one job: MinHash signatures in an LSH table, keyed by task index.

An entry is either a sample the store holds (permanent) or a reservation: a candidate of this
process that passed and is on its way to the store. A reservation blocks near-copies from
passing meanwhile; it gives way to the stored sample of its task once that is read back, to the
next candidate of the same task, or expires when its task never reaches the store (rejected by a
later validator or in the end), so it cannot block other tasks for ever.

datasketch (numpy, scipy) is imported here only: this module loads when `near_dup` is used.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from datasketch import LeanMinHash, MinHash, MinHashLSH


@attrs.frozen
class Match:
    """The closest entry above the threshold: its task, the estimated Jaccard similarity, whether stored."""

    task_index: int
    similarity: float
    stored: bool


class NearIndex:
    """Signatures of accepted (and reserved) samples, queried for the closest one above `threshold`."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        self.threshold = threshold
        self._template = MinHash(num_perm=num_perm)
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[int, LeanMinHash] = {}
        self._expiry: dict[int, float] = {}
        """Reservations: task index -> clock time after which it no longer counts."""

    def __len__(self) -> int:
        return len(self._signatures)

    def signature(self, shingles: Iterable[str]) -> LeanMinHash:
        """The MinHash of a shingle set; the permutations are drawn once per index, then copied."""
        minhash = self._template.copy()  # never updated itself, so its copy starts empty
        minhash.update_batch([s.encode("utf-8", "surrogatepass") for s in shingles])
        return LeanMinHash(minhash)

    def add_stored(self, task_index: int, signature: LeanMinHash) -> None:
        """A sample the store holds; it replaces its task's reservation, if any."""
        self._put(task_index, signature)
        self._expiry.pop(task_index, None)

    def reserve(self, task_index: int, signature: LeanMinHash, until: float) -> None:
        """A candidate that passed, held until the clock reads `until` unless its sample is stored first."""
        if task_index in self._signatures and task_index not in self._expiry:
            return  # the task's sample is stored already; a late candidate of it changes nothing
        self._put(task_index, signature)
        self._expiry[task_index] = until

    def expire(self, now: float) -> None:
        """Forget the reservations whose time is over."""
        for task_index in [t for t, until in self._expiry.items() if until <= now]:
            del self._expiry[task_index]
            self._drop(task_index)

    def closest(self, signature: LeanMinHash, exclude: int, now: float) -> Match | None:
        """The most similar entry at or above the threshold, other than task `exclude`'s own."""
        self.expire(now)
        best: Match | None = None
        for key in self._lsh.query(signature):
            if key == exclude:
                continue
            similarity = float(signature.jaccard(self._signatures[key]))
            if similarity >= self.threshold and (best is None or similarity > best.similarity):
                best = Match(key, similarity, stored=key not in self._expiry)
        return best

    def _put(self, task_index: int, signature: LeanMinHash) -> None:
        self._drop(task_index)
        self._lsh.insert(task_index, signature)
        self._signatures[task_index] = signature

    def _drop(self, task_index: int) -> None:
        if self._signatures.pop(task_index, None) is not None:
            self._lsh.remove(task_index)
