"""partbased: part-based representations of data (NMF, sparse AEs, PAE-NMF), compared on one set of metrics."""

__version__ = "0.1.0"
