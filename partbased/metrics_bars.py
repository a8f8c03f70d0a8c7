"""Kept for old imports: the bars scores live in partbased.metrics.structure (import them from partbased.metrics)."""

from partbased.metrics.structure import MATCH_COSINE, bar_cosines, bars_covered, bars_recovery

__all__ = ["MATCH_COSINE", "bar_cosines", "bars_covered", "bars_recovery"]
