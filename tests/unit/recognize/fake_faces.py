"""Encodings for the pure decision tests: random directions stand in for people (two of
them are ~0.7 apart, as different people are), and a face "near" one is a step away."""

import numpy as np


def person(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return 0.5 * v / np.linalg.norm(v)


def near(encoding: np.ndarray, distance: float, seed: int = 99) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=128)
    return encoding + distance * d / np.linalg.norm(d)
