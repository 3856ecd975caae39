"""Summaries of alternating benchmark rounds, shared by the bench drivers.

Each round is a dict {side: {metric: value}}; a side's figure is the median over rounds,
a ratio the median of the per-round ratios (one slow round of either side then moves
the ratio as one sample, not twice).
"""
import statistics


def medians(rounds, subject, baseline, metrics):
    """{metric_subject, metric_baseline, metric_ratio} for each metric."""
    row = {}
    for m in metrics:
        row[f"{m}_{subject}"] = statistics.median(r[subject][m] for r in rounds)
        row[f"{m}_{baseline}"] = statistics.median(r[baseline][m] for r in rounds)
        row[f"{m}_ratio"] = statistics.median(r[subject][m] / r[baseline][m] for r in rounds)
    return row
