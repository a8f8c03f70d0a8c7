"""The AE sparsity penalties S(p, t) as functions of the mean activation t (part-based-autoencoders-report
Sec. 3.2, Figs. 2 and 3), drawn from the very function the AE trains with (partbased.models.ae)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import style

PENALTY_LABELS = {"kl": "KL divergence", "l2": "L2: (p − t)²", "eps_l1": "εL1: √((p − t)² + ε)", "log": "log: log(1 + (p − t)²)"}


def penalty_curves(p: float, t: np.ndarray, names: list[str], eps: float) -> dict[str, np.ndarray]:
    """S(p, t) of each named penalty at each t (n,), through partbased.models.ae.sparsity_penalty."""
    import torch  # the AE's own penalty code is torch; only this workflow-level figure needs it

    from partbased.models.ae import sparsity_penalty

    values = torch.as_tensor(np.asarray(t, dtype=np.float64))[:, None]  # (n, 1): one unit per t
    return {name: sparsity_penalty(name, p, values, eps=eps).numpy() for name in names}


def plot_penalties(path: str | Path, dpi: int, p: float = 0.3, eps: float | None = None) -> None:
    """Left (Fig. 2): the four penalties for p = 0.3 on t in (0, 1). Right (Fig. 3): p = 0, t in [−1, 1],
    the three penalties defined outside ]0, 1] (KL needs t in ]0, 1[, i.e. a sigmoid encoder)."""
    from partbased.models.ae import AEConfig

    eps = AEConfig.eps if eps is None else eps
    t_unit = np.linspace(0.005, 0.995, 400)
    t_signed = np.linspace(-1.0, 1.0, 401)
    panels = [
        (f"p = {p:g}, t ∈ (0, 1) (report Fig. 2)", p, t_unit, ["kl", "l2", "eps_l1", "log"]),
        ("p = 0, t ∈ [−1, 1]: codes may be negative (Fig. 3)", 0.0, t_signed, ["l2", "eps_l1", "log"]),
    ]
    styles = dict(zip(["kl", "l2", "eps_l1", "log"], style.LINE_STYLES))
    with style.figure_style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.2))
        for ax, (panel_title, p_panel, t, names) in zip(axes, panels):
            for name, curve in penalty_curves(p_panel, t, names, eps).items():
                color, dash = styles[name]
                ax.plot(t, curve, color=color, linestyle=dash, label=PENALTY_LABELS[name])
            ax.axvline(p_panel, color="0.6", linewidth=0.8, linestyle=":")
            ax.set_title(panel_title)
            ax.set_xlabel("mean activation t of a unit")
            ax.grid(color="0.92")
        axes[0].set_ylim(0, 1.5)  # KL grows without bound at t → 0 and 1
        axes[0].set_ylabel("penalty S(p, t)")
        axes[0].legend(frameon=False)
        fig.suptitle(f"Sparsity penalties of the AE (ε = {eps:g}); the dotted line marks t = p, where each is smallest")
        fig.tight_layout()
        style.save(fig, path, dpi)
