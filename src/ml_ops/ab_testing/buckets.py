"""Sticky assignment: 10,000 buckets, each owned by one variant, and a hash per unit.

A unit (a user id, a session id) lands in bucket
`floor(SHA-256(salt + "\\0" + unit)[:8] / 2**64 * 10,000)`: a uniform point in [0, 1)
scaled to the bucket space, the same in every process, host and restart without any
coordination. The `BucketMap` says which variant owns each bucket; the variants' shares
of the 10,000 buckets follow their weights (largest remainder, so a weight is realised to
0.01% of traffic).

Changing weights moves as few buckets as possible: each variant that must shrink gives up
its highest buckets, and each that must grow takes the freed buckets in ascending order.
Exactly `sum(max(0, old_count - new_count))` buckets change owner, the minimum any
reassignment can achieve, so a unit changes variant only when the change forces it.
Anonymous calls (no unit id) get a random bucket.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.errors import ConfigurationError

BUCKETS = 10_000


def bucket_of(salt: str, unit: str) -> int:
    """The bucket of `unit` in the experiment salted with `salt` (0 <= bucket < 10,000)."""
    digest = hashlib.sha256(f"{salt}\x00{unit}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") * BUCKETS) >> 64


def random_bucket(rng: random.Random) -> int:
    """A bucket for an anonymous call."""
    return rng.randrange(BUCKETS)


def apportion(weights: Mapping[str, float]) -> dict[str, int]:
    """Buckets per variant, proportional to `weights` (largest remainder; ties go to the
    variant named first). Weights must be >= 0 with a positive sum."""
    if not weights:
        raise ConfigurationError("weights: name at least one variant")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigurationError(f"weights must be >= 0 with a positive sum, got {dict(weights)}")
    total = sum(weights.values())
    exact = {name: w * BUCKETS / total for name, w in weights.items()}
    counts = {name: int(share) for name, share in exact.items()}
    left = BUCKETS - sum(counts.values())
    order = sorted(weights, key=lambda n: (-(exact[n] - counts[n]), list(weights).index(n)))
    for name in order[:left]:
        counts[name] += 1
    return counts


@dataclass(frozen=True, slots=True)
class BucketMap:
    """Which variant owns which buckets: `ranges` of `(start, end, variant)` (end
    exclusive), sorted and covering 0..10,000 exactly once; `variants` in definition order
    (a variant with weight 0 owns no range)."""

    variants: tuple[str, ...]
    ranges: tuple[tuple[int, int, str], ...]

    @classmethod
    def build(cls, weights: Mapping[str, float]) -> BucketMap:
        """Contiguous ranges in the order of `weights`, sized by `apportion`."""
        counts = apportion(weights)
        ranges = []
        start = 0
        for name in weights:
            if counts[name]:
                ranges.append((start, start + counts[name], name))
                start += counts[name]
        return cls(tuple(weights), tuple(ranges))

    def variant_at(self, bucket: int) -> str:
        """The variant that owns `bucket`."""
        index = bisect.bisect_right([start for start, _, _ in self.ranges], bucket) - 1
        return self.ranges[index][2]

    def counts(self) -> dict[str, int]:
        """Buckets owned per variant (0 for a variant that owns none)."""
        counts = dict.fromkeys(self.variants, 0)
        for start, end, name in self.ranges:
            counts[name] += end - start
        return counts

    def rebalance(self, weights: Mapping[str, float]) -> BucketMap:
        """The map for new `weights` (same variants) that moves the fewest buckets."""
        if set(weights) != set(self.variants):
            raise ConfigurationError(
                f"weights name {sorted(weights)}; the experiment's variants are "
                f"{sorted(self.variants)}"
            )
        target = apportion({name: weights[name] for name in self.variants})
        owned = self._owned()
        freed: list[int] = []
        for name in self.variants:
            surplus = len(owned[name]) - target[name]
            if surplus > 0:
                freed.extend(owned[name][-surplus:])
                del owned[name][-surplus:]
        freed.sort()
        position = 0
        for name in self.variants:
            deficit = target[name] - len(owned[name])
            if deficit > 0:
                owned[name].extend(freed[position : position + deficit])
                position += deficit
        owner = [""] * BUCKETS
        for name, buckets in owned.items():
            for bucket in buckets:
                owner[bucket] = name
        return BucketMap(self.variants, _runs(owner))

    def moved(self, other: BucketMap) -> int:
        """How many buckets have a different owner in `other`."""
        mine, theirs = self._owners(), other._owners()
        return sum(1 for a, b in zip(mine, theirs, strict=True) if a != b)

    def _owned(self) -> dict[str, list[int]]:
        owned: dict[str, list[int]] = {name: [] for name in self.variants}
        for start, end, name in self.ranges:
            owned[name].extend(range(start, end))
        for buckets in owned.values():
            buckets.sort()
        return owned

    def _owners(self) -> list[str]:
        owner = [""] * BUCKETS
        for start, end, name in self.ranges:
            owner[start:end] = [name] * (end - start)
        return owner

    def to_dict(self) -> dict[str, Any]:
        """JSON form: `{"variants": [...], "ranges": [[start, end, variant], ...]}`."""
        return {"variants": list(self.variants), "ranges": [list(r) for r in self.ranges]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketMap:
        """Read `to_dict`'s form back, checking that the ranges cover every bucket once."""
        variants = tuple(str(v) for v in data["variants"])
        ranges = tuple((int(s), int(e), str(n)) for s, e, n in data["ranges"])
        _check_cover(variants, ranges)
        return cls(variants, ranges)


def _runs(owner: Sequence[str]) -> tuple[tuple[int, int, str], ...]:
    runs: list[tuple[int, int, str]] = []
    start = 0
    for bucket in range(1, len(owner) + 1):
        if bucket == len(owner) or owner[bucket] != owner[start]:
            runs.append((start, bucket, owner[start]))
            start = bucket
    return tuple(runs)


def _check_cover(variants: Sequence[str], ranges: Sequence[tuple[int, int, str]]) -> None:
    expected = 0
    for start, end, name in ranges:
        if start != expected or end <= start or name not in variants:
            raise ConfigurationError("a stored bucket map is damaged: ranges do not tile 0..10000")
        expected = end
    if expected != BUCKETS:
        raise ConfigurationError("a stored bucket map is damaged: ranges do not tile 0..10000")
