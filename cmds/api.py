"""The notebook API: load data, fit a spec or a formula, and work with the fit as an object.

It calls the same functions as ``make fit`` and the command lines (:func:`models.fitting.
fit_model`, :mod:`analysis.odds_ratios`, :mod:`analysis.ppc`, ...), so a fit made here is the
fit ``make`` would make with the same data, spec, draws and seed. Every method returns plain
pandas, xarray or matplotlib objects; ``Fit.idata`` is the ArviZ ``DataTree`` for anything not
wrapped here (``arviz.summary(fit.idata)``, ``arviz.plot_trace(fit.idata)``).

Example
-------
>>> import cmds
>>> data = cmds.load_data()                       # the embedded synthetic sample
>>> fit = cmds.fit("health_record ~ local_medical_insurance + hukou + (1 | province)", data)
>>> fit.summary()                                 # odds ratios, intervals, R-hat, ESS
>>> longer = fit.update(draws=2000)               # refit with more draws
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
import yaml
from matplotlib.figure import Figure

from analysis.convergence import convergence_checks, failure_messages
from analysis.forest_plot import forest_plot
from analysis.model_comparison import loo_comparison
from analysis.odds_ratios import odds_ratio_table, reporting_scale
from analysis.ppc import predictive_checks
from analysis.summarize_cli import add_labels
from analysis.term_labels import TermLabeller, default_language
from cmds_common.atomic import write_with
from cmds_common.constants import DEFAULT_SAMPLE_SIZE, DEFAULT_SEED
from cmds_common.spec import ModelSpec, SpecError, load_spec, spec_from_dict
from data_prep.analysis_dataset import to_analysis_table
from data_prep.build_cli import load_input
from data_prep.synthetic import generate_synthetic
from data_prep.variables import synthetic_declarations
from models.design import Design, build_design, group_labels
from models.fit_file import write_fit_netcdf
from models.fitting import fit_model, spec_settings
from models.parameter_names import FAMILIES_WITH_INTERCEPT, free_parameter_names
from models.sampling import SamplerSettings

#: Key of ``DataFrame.attrs`` under which :func:`load_data` keeps the columns' declarations
#: (labels for :meth:`Fit.summary` and :meth:`Fit.plot_forest`).
DECLARATIONS_ATTR = "declarations"


def load_data(
    path: str | Path | None = None,
    codebook: str | Path | None = None,
    encoding: str | None = None,
    n: int = DEFAULT_SAMPLE_SIZE,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Load an analysis table: the synthetic default, a raw survey file, or a coded table.

    Parameters
    ----------
    path
        ``None`` for the embedded synthetic sample; a ``.sav``/``.dta`` raw file (decoded
        through ``codebook``, the shipped 2015 CMDS codebook by default); a ``.csv``/``.parquet``
        coded table (or a raw export when ``codebook`` is given).
    codebook
        Codebook YAML for raw files.
    encoding
        Text encoding of the file when it is not the one its header declares (e.g. ``gb18030``).
    n, seed
        Size and seed of the synthetic sample (``path=None`` only).

    Returns
    -------
    pandas.DataFrame
        The typed analysis table, one row per respondent (categoricals with the reference level
        first). The same checks as ``make fit DATA=...`` run; warnings are printed.

    Raises
    ------
    data_prep.validation.DataValidationError, data_prep.readers.InputFileError
        When the file cannot be used (the message says why and what to do).
    """
    if path is None:
        raw, _ = generate_synthetic(n=n, seed=seed)
        # typed as `make data` types it, so the data hash (and a saved fit) match the pipeline's
        table = to_analysis_table(raw, synthetic_declarations())
        table.attrs[DECLARATIONS_ATTR] = synthetic_declarations()
        return table
    loaded = load_input(Path(path), Path(codebook) if codebook else None, encoding, [])
    for finding in loaded.findings:
        print(f"{finding.severity}: {finding}")
    loaded.table.attrs[DECLARATIONS_ATTR] = loaded.declarations
    return loaded.table


def _as_spec(
    model: str | Path | ModelSpec, name: str | None, family: str | None = None
) -> ModelSpec:
    """Make a spec from a formula string, a shipped spec name, a YAML path or a spec."""
    if isinstance(model, ModelSpec):
        spec = model
    elif "~" in (text := str(model)):
        outcome = text.split("~", 1)[0].strip()
        tag = hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:6]
        fields = {"name": name or f"{outcome}_{tag}", "formula": text}
        return spec_from_dict({**fields, **({"family": family} if family else {})})
    else:
        spec = load_spec(model)
    if family and family != spec.family:
        raise SpecError(
            f"family={family!r} is for formulas; model {spec.name!r} declares family "
            f"{spec.family!r} (edit its spec to change it)"
        )
    return spec


@dataclass
class Fit:
    """A fitted model: spec, data, design, weighted logit and posterior (``idata``).

    Attributes
    ----------
    spec
        The model spec (formula, reference levels, weights, priors).
    data
        The analysis table it was fitted to.
    design
        Design matrix, outcome, weights and group index.
    frequentist
        Weighted logistic regression on the same design (one row per term).
    idata
        The posterior as an ArviZ ``DataTree`` (posterior, sample statistics, log-likelihood,
        posterior predictive, observed data), tagged with its provenance.
    settings
        The sampler settings used.
    """

    spec: ModelSpec
    data: pd.DataFrame
    design: Design
    frequentist: pd.DataFrame
    idata: xr.DataTree
    settings: SamplerSettings

    @property
    def name(self) -> str:
        """The model's name."""
        return self.spec.name

    def __repr__(self) -> str:
        posterior = self.idata.posterior
        return (
            f"<Fit {self.name}: {self.spec.formula} | {len(self.design.y)} respondents, "
            f"{posterior.sizes['chain']} chains x {posterior.sizes['draw']} draws, "
            f"seed {self.settings.seed}>"
        )

    def summary(self) -> pd.DataFrame:
        """Odds ratios: posterior median, 95% interval, P(OR > 1), R-hat, bulk ESS, weighted logit.

        Returns
        -------
        pandas.DataFrame
            One row per term (as ``results/tables/odds_ratios_<model>.csv``), with the published
            OR where the spec names a published model.
        """
        table = odds_ratio_table(
            self.idata, self.frequentist, self.spec.published_model, family=self.spec.family
        )
        # a table without declarations (not from load_data) gets the shipped CMDS labels
        labeller = TermLabeller(
            self.data.attrs.get(DECLARATIONS_ATTR) or synthetic_declarations(),
            default_language(),
            self.spec.reference_levels,
        )
        return add_labels(table, labeller, self.spec.predictors)

    def convergence(self) -> pd.DataFrame:
        """Run the convergence gate's checks (R-hat, bulk and tail ESS, divergences, E-BFMI)."""
        return convergence_checks(self.idata, free_parameter_names(self.spec))

    def converged(self) -> bool:
        """Whether every convergence check passed (see :meth:`convergence`)."""
        failures = failure_messages(self.convergence())
        for line in failures:
            print(f"convergence: {line}")
        return not failures

    def plot_forest(self) -> Figure:
        """Forest plot of the Bayesian, weighted-logit and (where given) published ORs."""
        kind = "multilevel" if self.spec.groups else "single-level"
        return forest_plot(
            self.summary(),
            f"{self.spec.label}: {reporting_scale(self.spec.family)[0]}s",
            bayes_label=f"Bayesian {kind} (median, 95% CrI)",
        )

    def ppc(self) -> pd.DataFrame:
        """Posterior predictive checks: observed against replicated, overall and by group.

        The statistics follow the family (shares, proportions, means and SDs, category
        shares; see :mod:`analysis.ppc`), by every grouping factor and category.

        Returns
        -------
        pandas.DataFrame
            One row per check (``check``, ``variable``, ``level``, ``statistic``, ``n``,
            ``observed``, predictive intervals, ``bayes_p``).
        """
        return predictive_checks(self.idata, self.data, spec=self.spec)

    def predict(
        self, newdata: pd.DataFrame | None = None, interval_prob: float = 0.95
    ) -> pd.DataFrame:
        """Posterior predictions on the outcome's scale for each row of ``newdata``.

        Every grouping factor's intercepts and slopes are added for the groups the model has
        seen; a group level it has not seen gets the average group (effects 0), as lme4's
        ``re.form = NA`` does for it (a province-level predictor's part of an unseen province's
        effect is not known either, so it is left out too).

        Parameters
        ----------
        newdata
            Rows with the spec's predictor and group columns, typed like the analysis table;
            ``None`` predicts for the fitted data.
        interval_prob
            Mass of the equal-tailed interval.

        Returns
        -------
        pandas.DataFrame
            Index as ``newdata``. 0/1 and binomial outcomes: ``probability`` (posterior mean of
            P(outcome)), ``low``, ``high``. Gaussian outcomes: ``mean`` (expected outcome, in
            its units, e.g. index points), ``low``, ``high``. Ordinal outcomes: for each
            category ``P(<category>)`` with ``P(<category>) low`` and ``P(<category>) high``.
            Always ``new_group``: whether any of the row's groups was unseen.

        Raises
        ------
        cmds_common.spec.SpecError
            When ``newdata`` lacks a column the model uses or has a level the fit has not.
        """
        from analysis.marginal_effects import predicted_mean

        rows = self.data if newdata is None else newdata
        X, group_idx = self._new_design(rows)
        posterior = self.idata.posterior.to_dataset().stack(sample=("chain", "draw"))
        draws = {
            name: values.transpose("sample", ...).to_numpy()
            for name, values in posterior.data_vars.items()
        }
        eta = draws["beta"] @ X.T
        if self.spec.family in FAMILIES_WITH_INTERCEPT:
            eta = eta + draws["intercept"][:, None]
        new_group = np.zeros(len(rows), dtype=bool)
        for group, idx in zip(self.design.groups, group_idx, strict=True):
            known = idx >= 0
            new_group |= ~known
            if group.intercept:
                eta[:, known] += draws[f"{group.name}_effect"][:, idx[known]]
            if group.slope_columns:
                slope = draws[f"{group.name}_slope"][:, idx[known], :]
                eta[:, known] += np.einsum("sok,ok->so", slope, X[known][:, group.slope_columns])
        predictions = predicted_mean(draws, self.design, eta)
        tail = (1 - interval_prob) / 2
        columns: dict[str, np.ndarray] = {}
        for label, values in predictions.items():
            name = {"probability": "probability", "index points": "mean"}.get(label, label)
            bounds = ("low", "high") if len(predictions) == 1 else (f"{name} low", f"{name} high")
            columns[name] = values.mean(axis=0)
            columns[bounds[0]] = np.quantile(values, tail, axis=0)
            columns[bounds[1]] = np.quantile(values, 1 - tail, axis=0)
        return pd.DataFrame({**columns, "new_group": new_group}, index=rows.index)

    def _new_design(self, rows: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
        """Design matrix of ``rows`` (fitted levels and centres) and each group's indices.

        A row's index is -1 in a grouping factor whose level the fit has not seen.
        """
        grouping = {c for term in self.spec.groups for c in term.factor}
        typed = rows.copy()
        for column in self.spec.used_columns():
            fitted = self.data[column]
            if column not in typed:
                if column in (self.spec.outcome, self.spec.weights):
                    typed[column] = fitted.iloc[0]
                    continue
                raise SpecError(f"newdata lacks column {column!r}, which the model uses")
            if isinstance(fitted.dtype, pd.CategoricalDtype) and column not in grouping:
                values = typed[column].astype(str)
                unknown = sorted(set(values) - set(fitted.cat.categories))
                if unknown:
                    raise SpecError(
                        f"newdata column {column!r} has levels {unknown} outside "
                        f"{list(fitted.cat.categories)}"
                    )
                typed[column] = pd.Categorical(values, categories=fitted.cat.categories)
        # the outcome is not used, but the design needs a valid one: each row takes the first
        # respondent's, and the fitted rows are appended so that it varies
        outcome = self.data[self.spec.outcome]
        typed[self.spec.outcome] = outcome.iloc[[0] * len(typed)].to_numpy()
        if isinstance(outcome.dtype, pd.CategoricalDtype):
            typed[self.spec.outcome] = pd.Categorical(typed[self.spec.outcome], dtype=outcome.dtype)
        used = [c for c in self.spec.used_columns() if c in typed]
        both = pd.concat([typed[used], self.data[used]], ignore_index=True)
        # the fixed part only: the rows' groups are looked up below (a prediction may be for
        # a province the model has not seen, which a grouping factor of the design would refuse)
        design = build_design(both, dataclasses.replace(self.spec, groups=()))
        X = design.X[: len(typed)].copy()
        for column, term in enumerate(design.terms):
            if term in design.continuous_centres:  # re-centre at the fitted data's mean
                X[:, column] += (
                    design.continuous_centres[term] - self.design.continuous_centres[term]
                )
        group_idx = []
        for term, group in zip(self.spec.groups, self.design.groups, strict=True):
            labels = group_labels(typed, term.factor).astype(str)
            positions = {level: k for k, level in enumerate(group.levels)}
            group_idx.append(np.array([positions.get(label, -1) for label in labels]))
        return X, group_idx

    def compare(self, *others: Fit) -> pd.DataFrame:
        """PSIS-LOO comparison of this fit with others of the same data (best first)."""
        fits = {self.name: self.idata, **{other.name: other.idata for other in others}}
        if len(fits) < 1 + len(others):
            raise ValueError("the fits to compare need different names")
        outcomes = {other.spec.outcome for other in others} | {self.spec.outcome}
        if len(outcomes) > 1:
            raise ValueError(
                f"LOO compares models of the same outcome only; these predict {sorted(outcomes)}"
            )
        return loo_comparison(fits)

    def update(self, **changes: object) -> Fit:
        """Refit with other sampler settings, e.g. ``fit.update(draws=4000, seed=2)``.

        Parameters
        ----------
        **changes
            Fields of :class:`models.sampling.SamplerSettings` (``draws``, ``tune``, ``chains``,
            ``seed``, ``target_accept``, ``sampler``, ...).
        """
        settings = dataclasses.replace(self.settings, **changes)
        return _fit(self.spec, self.data, settings)

    def save(self, path: str | Path) -> Path:
        """Write the fit as NetCDF (readable by ``arviz.from_netcdf``) plus its weighted logit.

        The weighted-logit table goes to ``<path>`` with suffix ``_frequentist.csv``. Reload with
        :func:`load` and the same data.
        """
        path = Path(path)
        write_with(path, lambda p: write_fit_netcdf(self.idata, p))
        frequentist_path = path.with_name(path.stem + "_frequentist.csv")
        write_with(frequentist_path, lambda p: self.frequentist.to_csv(p, index=False))
        return path


def _fit(spec: ModelSpec, data: pd.DataFrame, settings: SamplerSettings) -> Fit:
    design, frequentist, idata = fit_model(data, spec, settings)
    return Fit(spec, data, design, frequentist, idata, settings)


def fit(
    model: str | Path | ModelSpec,
    data: pd.DataFrame,
    *,
    name: str | None = None,
    family: str | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int = DEFAULT_SEED,
    sampler: str = "auto",
    progress: bool = False,
) -> Fit:
    """Fit a model to an analysis table, as ``make fit`` does for one spec.

    Parameters
    ----------
    model
        A formula in lme4 syntax (``"health_record ~ hukou + age_years + (1 | province)"``), the
        name of a shipped spec (``"model2"``), a path to a spec YAML, or a ``ModelSpec``.
    data
        Typed analysis table (from :func:`load_data`).
    name
        Model name for a formula (default ``<outcome>_<6 hex digits of the formula>``).
    family
        Likelihood of a formula's outcome, as brms's ``family =``: ``bernoulli`` (default),
        ``binomial``, ``gaussian`` or ``cumulative_logit`` (ordered categories).
    draws, tune, chains
        Sampler settings (default: the spec's own, else 1000 draws after 500 warm-up, 4 chains).
    seed
        Seed of every random step.
    sampler
        ``auto`` (default), ``compiled``, ``nutpie``, ``pymc`` or ``jax`` (the compiled
        engine's log-density in JAX; needs ``pip install -e '.[jax]'``).
    progress
        Show nutpie's progress table.

    Returns
    -------
    Fit
        The fitted model.
    """
    spec = _as_spec(model, name, family)
    overrides = {"draws": draws, "tune": tune, "chains": chains}
    settings = spec_settings(spec, sampler, overrides, seed=seed, progress=progress)
    return _fit(spec, data, settings)


def load(path: str | Path, data: pd.DataFrame) -> Fit:
    """Reload a fit written by :meth:`Fit.save` or ``make fit`` (``results/fits/<model>.nc``).

    Parameters
    ----------
    path
        The NetCDF file; its weighted-logit table is read from beside it.
    data
        The analysis table it was fitted to (checked by content hash).

    Raises
    ------
    ValueError
        When ``data`` is not the table the fit was made from.
    """
    from cmds_common.analysis_table import data_hash

    path = Path(path)
    idata = az.from_netcdf(path)
    attrs = idata.posterior.attrs
    if data_hash(data) != attrs["data_hash"]:
        raise ValueError(
            f"{path} was fitted to data with hash {attrs['data_hash']}, not to this table "
            f"(hash {data_hash(data)})"
        )
    spec = spec_from_dict(yaml.safe_load(attrs["spec_yaml"]), str(path))
    frequentist = pd.read_csv(path.with_name(path.stem + "_frequentist.csv"))
    settings = SamplerSettings(
        sampler=str(attrs["sampler"]),
        chains=int(attrs["chains"]),
        draws=int(attrs["draws"]),
        tune=int(attrs["tune"]),
        seed=int(attrs["seed"]),
        target_accept=float(attrs["target_accept"]),
        progress=False,
    )
    return Fit(spec, data, build_design(data, spec), frequentist, idata, settings)


__all__ = ["Fit", "fit", "load", "load_data"]
