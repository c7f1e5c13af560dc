"""Writing figures: atomically, as PNG, and freeing them afterwards; fonts for Chinese labels.

The one place that chooses fonts. Model labels, province names and codebook texts may be
Chinese; matplotlib's default DejaVu Sans has no CJK glyphs and draws empty boxes. Every figure
is therefore saved with a fallback list: DejaVu Sans first (Latin text looks as before), then
the first installed CJK font of :data:`CJK_FONTS` for the characters DejaVu lacks. Without one,
saving a figure with CJK text warns and names the package to install (Debian/Ubuntu
``fonts-noto-cjk``).
"""

from __future__ import annotations

import re
import textwrap
import warnings
from functools import cache
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager, rcParams
from matplotlib.figure import Figure
from matplotlib.text import Text

from cmds_common.atomic import write_with

#: CJK-capable fonts, best first (Noto/Source Han from fonts-noto-cjk, then common others).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
)
#: What to install when no CJK font is found.
CJK_FONT_PACKAGE = "fonts-noto-cjk (apt-get install fonts-noto-cjk; or any font in CJK_FONTS)"

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


_CJK_FILES = re.compile(r"(?i)(notosanscjk|notoserifcjk|sourcehan|wqy|droidsansfallback)")


def wrap_title(text: str, width: int = 72) -> str:
    """Return a figure title with each of its lines wrapped at ``width`` characters.

    Titles carry a model's label and an outcome's label, either of which can be long; matplotlib
    does not wrap them and cuts them at the figure's edge.
    """
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


@cache
def cjk_font() -> str | None:
    """Name of the first installed CJK-capable font of :data:`CJK_FONTS`, or ``None``."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed.intersection(CJK_FONTS):
        # matplotlib's font cache predates fonts installed later: look on disk once
        for path in font_manager.findSystemFonts():
            if _CJK_FILES.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def use_cjk_fallback() -> str | None:
    """Put DejaVu Sans, then the installed CJK font, first in matplotlib's sans-serif list."""
    font = cjk_font()
    if font is not None:
        wanted = ["DejaVu Sans", font]
        rcParams["font.sans-serif"] = wanted + [
            f for f in rcParams["font.sans-serif"] if f not in wanted
        ]
    return font


def _has_cjk_text(figure: Figure) -> bool:
    return any(_CJK.search(text.get_text()) for text in figure.findobj(Text))


def save_figure(figure: Figure, path: Path, dpi: int = 130) -> None:
    """Write ``figure`` to ``path`` as PNG (temporary name, then rename) and close it.

    Chinese text is drawn with an installed CJK font; without one a warning names the package.
    """
    font = use_cjk_fallback()
    if font is not None:
        for text in figure.findobj(Text):
            if _CJK.search(text.get_text()):
                text.set_fontfamily(["DejaVu Sans", font])
    elif _has_cjk_text(figure):
        warnings.warn(
            f"{path.name}: the figure has Chinese text but no CJK font is installed, so it is "
            f"drawn as empty boxes; install {CJK_FONT_PACKAGE}",
            stacklevel=2,
        )
    with warnings.catch_warnings():
        # the missing-glyph warnings are summed up in the one above
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        write_with(path, lambda p: figure.savefig(p, dpi=dpi, format="png"))
    plt.close(figure)
