"""Classification metrics of a few-shot run (spec section 5), from class probabilities.

- accuracy = mean(argmax p == y)
- macro-F1 = mean over classes c of 2 P_c R_c / (P_c + R_c)
- MCC (Matthews; Gorodkin's R_K for more than two classes)
  = (c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2)),
  with c correct predictions, s samples, p_k / t_k predicted / true counts of class k
- AUROC: binary, of p(class 1); more classes, one-vs-rest macro average
  (each class against the rest, by its own probability). NaN when a class is
  missing from ``y_true`` (AUROC undefined).
- ``predicted_classes``: how many distinct classes the argmax predicts; ``collapsed``:
  True when that is one while ``y_true`` holds several, i.e. the model says the same
  class for every row (accuracy = that class's share, MCC 0, macro-F1 <= 1/C): a
  failed fine-tuning, not a stable one.

scikit-learn computes them (an existing, tested engine); this module fixes
which arguments the paper's numbers need.
"""

from __future__ import annotations

import numpy as np

__all__ = ["classification_metrics", "softmax", "METRICS"]

METRICS = ("accuracy", "macro_f1", "mcc", "auroc")


def softmax(logits) -> np.ndarray:
    """Row-wise softmax in float64: (n, classes) logits -> probabilities."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_metrics(y_true, probs) -> dict:
    """``y_true``: (n,) class ids 0..C-1; ``probs``: (n, C) probabilities -> metric dict."""
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, roc_auc_score
    y = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != y.shape[0]:
        raise ValueError(f"probs must be (n, classes) with n={y.shape[0]}, got {probs.shape}")
    n_classes = probs.shape[1]
    pred = probs.argmax(axis=1)
    labels = list(range(n_classes))
    out = {"accuracy": float(accuracy_score(y, pred)),
           "macro_f1": float(f1_score(y, pred, average="macro", labels=labels, zero_division=0)),
           "mcc": float(matthews_corrcoef(y, pred))}
    out["predicted_classes"] = int(np.unique(pred).size)
    out["collapsed"] = bool(out["predicted_classes"] == 1 and np.unique(y).size > 1)
    if len(np.unique(y)) < n_classes:
        out["auroc"] = float("nan")
    elif n_classes == 2:
        out["auroc"] = float(roc_auc_score(y, probs[:, 1]))
    else:
        out["auroc"] = float(roc_auc_score(y, probs, multi_class="ovr", average="macro",
                                           labels=labels))
    return out
