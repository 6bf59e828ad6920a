"""Small learned scorers over named features, read from qa/models/.

A model is a JSON file written by ``benchmarks/train.py``: its feature names, the
standardisation of each feature, and either a linear layer (a logistic regression) or one
hidden tanh layer before it (a small MLP), with the figures it reached on the dev and held-out
halves. Applying one is two small matrix products: deterministic, no extra dependency,
microseconds per question.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

MODELS = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Model:
    """logit(x) = w2 . tanh(W1 . z + b1) + b2, or w2 . z + b2 without a hidden layer, where
    z is x standardised; the logit is read as a probability by a sigmoid (one row alone) or
    a softmax (rows that compete, such as the candidates of one question)."""

    name: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    hidden: tuple[np.ndarray, np.ndarray] | None  # (W1, b1), or None for a linear model
    output: tuple[np.ndarray, float]  # (w2, b2)

    def logit(self, rows: np.ndarray) -> np.ndarray:
        """The model's score of each row (columns in the order of ``features``)."""
        z = (np.asarray(rows, dtype=np.float64) - self.mean) / self.scale
        if self.hidden is not None:
            z = np.tanh(z @ self.hidden[0] + self.hidden[1])
        return np.asarray(z @ self.output[0] + self.output[1])

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(label) of each row on its own (sigmoid of the logit)."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.logit(rows))))

    def share(self, rows: np.ndarray) -> np.ndarray:
        """P(row is the one) among competing rows (softmax of the logits)."""
        logits = self.logit(rows)
        e = np.exp(logits - logits.max(initial=0.0))
        return np.asarray(e / e.sum()) if len(e) else e

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        def listed(a: np.ndarray) -> Any:
            return np.round(np.asarray(a, dtype=np.float64), 8).tolist()

        return {
            "name": self.name,
            "features": list(self.features),
            "mean": listed(self.mean),
            "scale": listed(self.scale),
            "hidden": None if self.hidden is None else [listed(h) for h in self.hidden],
            "output": [listed(self.output[0]), round(float(self.output[1]), 8)],
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        hidden = data["hidden"]
        return cls(
            name=data["name"],
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            hidden=None
            if hidden is None
            else (np.asarray(hidden[0], dtype=np.float64), np.asarray(hidden[1], dtype=np.float64)),
            output=(np.asarray(data["output"][0], dtype=np.float64), float(data["output"][1])),
        )


@cache
def load(name: str, features: tuple[str, ...]) -> Model:
    """The model ``qa/models/<name>.json``, checked to take exactly ``features``."""
    path = MODELS / f"{name}.json"
    model = Model.from_dict(json.loads(path.read_text(encoding="utf-8")))
    if model.features != features:
        raise ValueError(
            f"{path} was fitted on features {model.features}, the code computes {features}: "
            "retrain it with benchmarks/train.py"
        )
    return model
