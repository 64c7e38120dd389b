"""The Pareto front and the winner rule on hand-made points."""

from __future__ import annotations

import math

import pytest

from ovtool.sweep.pareto import choose, dominates, pareto_front


def test_dominance_respects_each_goal() -> None:
    # (quality max, latency min)
    assert dominates([0.9, 10.0], [0.8, 12.0], ["max", "min"])
    assert not dominates([0.9, 13.0], [0.8, 12.0], ["max", "min"])  # better quality, worse latency
    assert not dominates([0.9, 10.0], [0.9, 10.0], ["max", "min"])  # equal: neither dominates
    assert dominates([0.9, 10.0], [0.9, 11.0], ["max", "min"])  # equal on one, better on the other
    with pytest.raises(ValueError):
        dominates([1.0], [1.0, 2.0], ["max"])


def test_front_of_a_trade_off() -> None:
    points = [[0.95, 10.0], [0.90, 20.0], [0.97, 5.0], [0.80, 25.0], [0.99, 2.0]]
    # goals: quality max, speed max → (0.99, 2) (0.97, 5) (0.95, 10) (0.90, 20) (0.80, 25) all trade off
    assert pareto_front(points, ["max", "max"]) == [0, 1, 2, 3, 4]
    # quality max, size min: (0.99, 2) beats everyone
    assert pareto_front(points, ["max", "min"]) == [4]


def test_duplicates_are_all_on_the_front_and_ties_go_to_the_first() -> None:
    points = [[1.0, 5.0], [1.0, 5.0], [0.5, 1.0]]
    assert pareto_front(points, ["max", "max"]) == [0, 1]
    assert choose(points, ["max", "max"], [0, 1]) == 0


def test_one_objective() -> None:
    points = [[3.0], [1.0], [2.0], [1.0]]
    assert pareto_front(points, ["min"]) == [1, 3]
    assert pareto_front(points, ["max"]) == [0]
    assert pareto_front([], ["max"]) == []


def test_missing_values_count_as_worst() -> None:
    points = [[None, 5.0], [0.9, 4.0], [0.8, math.nan], [0.9, 3.0]]
    # index 0 is still on the front through its speed; index 2 (speed missing) is dominated by 1
    assert pareto_front(points, ["max", "max"]) == [0, 1]
    assert choose(points, ["max", "max"], [0, 1], by=0) == 1


def test_choose_with_tolerance_hands_the_tie_to_the_next_objective() -> None:
    goals = ["min", "max"]  # perplexity min, tokens/s max
    points = [[10.0, 100.0], [10.3, 150.0], [12.0, 200.0]]
    front = pareto_front(points, goals)
    assert front == [0, 1, 2]
    assert choose(points, goals, front, by=0) == 0
    assert choose(points, goals, front, by=0, tolerance_pct=5) == 1  # 10.3 within 5 % of 10, and faster
    assert choose(points, goals, front, by=1) == 2
    assert choose(points, goals, []) is None
