"""Writing figures: atomically, as PNG, and freeing them afterwards."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from cmds_common.atomic import write_with


def save_figure(figure: Figure, path: Path, dpi: int = 130) -> None:
    """Write ``figure`` to ``path`` as PNG (temporary name, then rename) and close it."""
    write_with(path, lambda p: figure.savefig(p, dpi=dpi, format="png"))
    plt.close(figure)
