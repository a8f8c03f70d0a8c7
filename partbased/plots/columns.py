"""What each column of metrics.csv means for a reader: its label, which way is better, its scale.

Directions: "lower" (↓ better), "higher" (↑ better) or "descriptive" (no better side: it describes
the representation). Sparseness of codes counts as ↑ because sparse codes are what the part-based
study looks for (part-based-autoencoders-report Sec. 3.2), with the caveat of its Fig. 8b: codes that
collapse to near-constant values score low, so a drop can also mean over-regularisation.
"""

from __future__ import annotations

from dataclasses import dataclass

ARROWS = {"lower": "↓", "higher": "↑", "descriptive": ""}
IDENTITY = ("dataset", "model", "family")
NOT_HYPERPARAMS = {*IDENTITY, "status"}


@dataclass(frozen=True)
class Metric:
    label: str  # axis label
    direction: str  # "lower" | "higher" | "descriptive"
    log: bool = False  # drawn on a log axis
    research: bool = True  # a property of the representation (train_seconds is a cost, drawn apart)
    short: str = ""  # a table header's label (the label when empty)
    digits: int | None = None  # fixed decimals in tables (None: 3 significant digits)
    drawn: bool = True  # has a panel of its own in the metric figures (diagnostics and error bars do not)

    @property
    def arrow(self) -> str:
        return ARROWS[self.direction]

    @property
    def header(self) -> str:
        """A narrow column header with its direction, e.g. 'recon. error ↓'."""
        return f"{self.short or self.label} {self.arrow}".strip()

    def format(self, value: float) -> str:
        return f"{value:.{self.digits}f}" if self.digits is not None else f"{value:.3g}"

    @property
    def title(self) -> str:
        """The label with its direction, e.g. 'reconstruction error (test MSE) ↓'."""
        return f"{self.label} {self.arrow}".strip()


METRICS = {
    "recon_error": Metric("reconstruction error (test MSE)", "lower", short="recon. error"),
    "hoyer_codes": Metric("Hoyer sparseness of codes", "higher", short="Hoyer codes"),
    "hoyer_atoms": Metric("Hoyer sparseness of atoms", "descriptive", short="Hoyer atoms"),
    "svm_accuracy": Metric("linear-SVM accuracy on codes", "higher", short="SVM accuracy", digits=3),
    "svm_accuracy_std": Metric("std of the SVM accuracy", "descriptive", short="SVM std", digits=3, drawn=False),
    "svm_converged": Metric("share of SVM fits converged", "descriptive", short="SVM converged", digits=3, drawn=False),
    "dilation_error": Metric("max-approx. error to dilation", "lower", log=True, short="dilation error"),
    "dilation_error_recon": Metric("dilation error vs dilated recon.", "lower", log=True, short="dil. err. vs recon."),
    "bars_recovery": Metric("single bars recovered (cos ≥ 0.9)", "higher", short="bars recovered", digits=2),
    "pca_angle_max": Metric("max principal angle to PCA (°)", "descriptive", short="angle to PCA (°)", digits=1),
    "atoms_rank": Metric("rank of the atoms", "descriptive", short="atoms rank", digits=0, drawn=False),
    # the trivial overcomplete solution on bars (eggert-koerner Sec. IV, Fig. 3): fewer is better
    "pixel_atoms": Metric("share of pixel-like atoms (no whole bar)", "lower", short="pixel atoms", digits=2, drawn=False),
    "atoms_min": Metric("smallest atom entry (≥ 0: nonnegative)", "descriptive", short="atoms min", drawn=False),
    # KL(q(z|x) ‖ prior) of PAE-NMF: the seed's regulariser keeps it small (pae-nmf-weibull-vae Sec. 3, Fig. 5)
    "latent_kl": Metric("mean KL(q(z|x) ‖ prior)", "lower", short="latent KL", drawn=False),
    "train_seconds": Metric("training seconds", "lower", log=True, research=False, short="train s", digits=1),
}

# drawn in their own panels; svm_accuracy_std is drawn as the error bars of svm_accuracy, and the
# diagnostics (svm_converged, atoms_rank) and the claims' checks (pixel_atoms, atoms_min, latent_kl) are in the
# table only
PANEL_METRICS = [m for m, metric in METRICS.items() if metric.drawn]
RESEARCH_METRICS = [m for m in PANEL_METRICS if METRICS[m].research]


def hyperparam_columns(columns) -> list[str]:
    """The columns of a metrics table that are neither identity, status nor a metric (grid keys, seed,
    and whatever effective settings the table carries)."""
    return [c for c in columns if c not in NOT_HYPERPARAMS and c not in METRICS]
