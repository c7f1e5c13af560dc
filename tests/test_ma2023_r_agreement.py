"""The ma2023 study's KMO, Bartlett and matching ATT against R (``psych``, ``Matching``).

Skipped, with the reason shown in the test summary, when ``Rscript`` with ``psych`` and
``Matching`` is not installed (Debian: ``apt-get install r-cran-psych r-cran-matching``).

Same quantities computed two ways on the study's synthetic sample, so tight tolerances:
KMO (overall and per item) within 1e-8 and Bartlett's chi-square within 1e-6 relative of
``psych::KMO`` and ``psych::cortest.bartlett``; the ATT and its Abadie-Imbens SE within 1e-8
relative of ``Matching::Match(Y, Tr, X = ps, M = 4, estimand = "ATT", caliper = 0.02 / sd(ps))``
(``Match``'s caliper is in SDs of ``X``; the same propensity scores are passed in), with
``distance.tolerance = 0``: by default ``Match`` treats scores closer than 1e-5 as tied and
matches every tied control, which our matching (ties broken by row order) does not. The SE is
compared on the data without the treated units the caliper drops: with drops,
``Match`` still counts them in its SE (see :mod:`analysis.matching`), so only the ATT and the
number dropped are compared on the full data.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from analysis.factor_index import bartlett_sphericity, kmo, oriented_items
from analysis.matching import match_att
from analysis.treatment_study import build_index, frequentist_results
from cmds_common.declarations import type_table
from cmds_common.study import load_study
from data_prep.codebook import load_codebook
from data_prep.synthetic_factor_sample import generate_factor_sample, load_factor_params

R_SCRIPT = textwrap.dedent(
    """
    suppressPackageStartupMessages({library(psych); library(Matching)})
    args <- commandArgs(trailingOnly = TRUE)
    items <- read.csv(args[1])
    k <- KMO(items)
    b <- cortest.bartlett(cor(items), n = nrow(items))
    write.csv(data.frame(item = c("overall", names(k$MSAi)), kmo = c(k$MSA, k$MSAi)),
              args[3], row.names = FALSE)
    m <- read.csv(args[2])
    fit <- Match(Y = m$y, Tr = m$t, X = m$ps, M = 4, estimand = "ATT",
                 caliper = 0.02 / sd(m$ps), replace = TRUE, ties = TRUE,
                 distance.tolerance = 0)
    kept <- m[m$keep == 1, ]
    fit2 <- Match(Y = kept$y, Tr = kept$t, X = kept$ps, M = 4, estimand = "ATT",
                  caliper = 0.02 / sd(kept$ps), replace = TRUE, ties = TRUE,
                  distance.tolerance = 0)
    write.csv(data.frame(chi2 = b$chisq, df = b$df, att = fit$est, drops = fit$ndrops.matches,
                         att_kept = fit2$est, se_kept = fit2$se, drops_kept = fit2$ndrops.matches),
              args[4], row.names = FALSE)
    """
)


def _r_available() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    probe = subprocess.run(
        ["Rscript", "-e", "library(psych); library(Matching)"], capture_output=True, check=False
    )
    return None if probe.returncode == 0 else "R packages psych and Matching are not installed"


REASON = _r_available()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def r_results(tmp_path_factory):
    study = load_study("ma2023")
    params = load_factor_params(study.path("synthetic"))
    table = type_table(
        generate_factor_sample(params, seed=20150501).data,
        load_codebook(study.path("codebook")).declarations,
    )
    items = oriented_items(table, study.index_items, study.raw["index"]["reverse"])
    indexed, _ = build_index(study, table)
    freq = frequentist_results(study, indexed)
    folder = tmp_path_factory.mktemp("r")
    items.to_csv(folder / "items.csv", index=False)
    treated = (indexed["smi_location"] == "host_city").to_numpy(int)
    keep = np.ones(len(indexed), dtype=int)
    keep[treated == 1] = 0
    keep[np.unique(freq.matching.pairs["treated"])] = 1
    frame = pd.DataFrame(
        {
            "y": indexed["integration_index"],
            "t": treated,
            "ps": freq.matching.propensity,
            "keep": keep,
        }
    )
    frame.to_csv(folder / "match.csv", index=False)
    (folder / "check.R").write_text(R_SCRIPT, encoding="utf-8")
    subprocess.run(
        [
            "Rscript",
            str(folder / "check.R"),
            *(str(folder / n) for n in ("items.csv", "match.csv", "kmo.csv", "rest.csv")),
        ],
        check=True,
        capture_output=True,
    )
    kept = frame[frame["keep"] == 1]
    refit = match_att(kept["y"].to_numpy(), kept["t"].to_numpy(), kept["ps"].to_numpy(), 4, 0.02)
    rest = pd.read_csv(folder / "rest.csv")
    return items, (freq, refit), pd.read_csv(folder / "kmo.csv"), rest


def test_kmo_and_bartlett_match_psych(r_results):
    items, _, r_kmo, rest = r_results
    corr = np.corrcoef(items.to_numpy(float), rowvar=False)
    overall, per_item = kmo(corr)
    assert overall == pytest.approx(r_kmo["kmo"].iloc[0], rel=1e-8)
    np.testing.assert_allclose(per_item, r_kmo["kmo"].iloc[1:], rtol=1e-8)
    chi2, df, _ = bartlett_sphericity(corr, len(items))
    assert chi2 == pytest.approx(rest["chi2"].iloc[0], rel=1e-6)
    assert df == rest["df"].iloc[0]


def test_matching_att_and_se_match_matching_match(r_results):
    _, (freq, refit), _, rest = r_results
    match = freq.matching
    assert match.att == pytest.approx(rest["att"].iloc[0], rel=1e-8)
    assert match.n_treated - match.n_matched_treated == rest["drops"].iloc[0]
    assert rest["drops_kept"].iloc[0] == 0
    assert refit.att == pytest.approx(rest["att_kept"].iloc[0], rel=1e-8)
    assert refit.se == pytest.approx(rest["se_kept"].iloc[0], rel=1e-8)
