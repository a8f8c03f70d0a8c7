"""Figures and report tables, one module per figure family; shared styling in `style`.

- style: fonts, colormaps, sizes, model colours, the atomic PNG write.
- columns: each metrics.csv column's label, direction (↓/↑/descriptive) and scale.
- tables: the rows a figure reads, and the sortable HTML metrics table.
- images: per-point figures of a model (atoms, reconstructions, code histograms, dilation), the image picks.
- hyperparams: each metric of one model against its varied hyperparameters.
- comparison: cross-model figures of one dataset (trade-off with Pareto front, metrics, training time, Table 1).
- penalties: the AE sparsity penalties as functions.
- pae: PAE-NMF latent distributions and generated samples.

Modules are imported one by one (nothing here), so a job imports only what it draws; none imports torch
at module level (the penalties figure imports it to evaluate the AE's own penalty code).
"""
