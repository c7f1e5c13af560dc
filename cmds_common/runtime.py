"""Settings that must be in place before PyTensor or ArviZ is imported."""

from __future__ import annotations

import os
import warnings


def configure() -> None:
    """Quiet two start-up messages that are not about the user's analysis.

    * PyTensor probes for a BLAS to link its C code against and warns when pip's NumPy (whose
      OpenBLAS it cannot link to) is all there is. With ``blas__ldflags`` set to empty it skips the
      probe and calls NumPy's own dot, which uses that OpenBLAS anyway. A user's own
      ``PYTENSOR_FLAGS`` setting of ``blas__ldflags`` wins.
    * ArviZ 0.23 announces its 1.0 migration on import.

    Also selects matplotlib's file-only Agg backend (figures are written, never shown) unless
    the user chose a backend with ``MPLBACKEND``.
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "blas__ldflags" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "blas__ldflags=") if f)
    warnings.filterwarnings("ignore", message=r"(?s).*ArviZ.*1\.0", category=FutureWarning)
