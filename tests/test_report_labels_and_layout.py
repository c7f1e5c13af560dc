"""The report speaks in declared labels and fits a laptop's screen.

Tables 1-2, the age table, the predictive checks and the odds-ratio tables are checked for the
declarations' labels (and the absence of the codes they replace), reference levels as rows;
the page pieces for the contents list, model headings, scrolling tables and unbroken
intervals; and, in headless Chromium when installed, that a page of wide tables does not
scroll sideways at 1280 px.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import report_html as page
from analysis.descriptive_tables import (
    category_table,
    continuous_table,
    display_category_table,
    display_continuous_table,
)
from analysis.labelled_tables import (
    REFERENCE_DIFFERENCE,
    REFERENCE_RATIO,
    ame_display,
    check_group_labels,
    reference_text,
    weighting_display,
    with_reference_rows,
)
from analysis.report import ReportInputs, _data_section
from analysis.term_labels import TermLabeller
from data_prep.variables import synthetic_declarations

LEVEL_CODES = ("ge3", "lt3", "primary_or_below", "health_record_yes", "age_years")


@pytest.fixture(scope="module")
def labeller() -> TermLabeller:
    return TermLabeller(synthetic_declarations())


def test_tables_1_2_show_declared_labels(default_table, labeller):
    shown = display_category_table(category_table(default_table), labeller)
    friends = shown.index[shown["level"].isin(["Fewer than 3", "3 or more"])]
    assert list(shown.loc[friends, "level"]) == ["Fewer than 3", "3 or more"]
    # the variable's label on its first level's row only, as a paper groups rows
    assert list(shown.loc[friends, "variable"]) == ["Number of local friends", ""]
    assert "Primary or below" in set(shown["level"])
    cells = set(shown["variable"]) | set(shown["level"])
    assert not cells & {"local_friends", "education", *LEVEL_CODES}
    # without declarations the codes stay (the CSV files keep them too)
    assert "ge3" in set(display_category_table(category_table(default_table))["level"])


def test_age_table_shows_labels_units_and_groups(default_table, labeller):
    shown = display_continuous_table(continuous_table(default_table), labeller)
    assert list(shown["group"][:3]) == [
        "All respondents",
        "With a health record",
        "Without a health record",
    ]
    assert shown["variable"].iloc[0].startswith("Age") and "(years)" in shown["variable"].iloc[0]
    assert list(shown["variable"].iloc[1:3]) == ["", ""]
    assert not set(shown.to_numpy().ravel()) & {"age_years", "health_record_yes", "all"}
    mean, sd = continuous_table(default_table)[["mean", "sd"]].iloc[0]
    assert shown["mean (SD)"].iloc[0] == f"{mean:.1f} ({sd:.1f})"


def test_reference_levels_become_rows(labeller):
    terms = ["income_quartile_Q2", "income_quartile_Q4", "local_friends_ge3", "age_years"]
    display = pd.DataFrame(
        {
            "term": [
                labeller.term(t, ["income_quartile", "local_friends", "age_years"]) for t in terms
            ],
            "Bayes OR (95% CrI)": [
                "0.99 (0.81-1.21)",
                "0.7 (0.5-0.9)",
                "1.5 (1.2-1.9)",
                "1.0 (1.0-1.0)",
            ],
            "P(OR>1)": ["0.466", "0.01", ">0.999", "0.5"],
        }
    )
    predictors = ["income_quartile", "local_friends", "age_years"]
    shown = with_reference_rows(display, terms, labeller, predictors)
    income = labeller.variable("income_quartile")
    assert list(shown["term"]) == [
        f"{income}: {labeller.level('income_quartile', 'Q1')}",
        f"{income}: {labeller.level('income_quartile', 'Q2')}",
        f"{income}: {labeller.level('income_quartile', 'Q4')}",
        "Number of local friends: Fewer than 3",
        "Number of local friends: 3 or more",
        labeller.term("age_years", predictors),
    ]
    assert list(shown["Bayes OR (95% CrI)"].iloc[[0, 3]]) == [REFERENCE_RATIO] * 2
    assert list(shown["P(OR>1)"].iloc[[0, 3]]) == ["", ""]  # nothing to test at the reference
    assert shown["Bayes OR (95% CrI)"].iloc[4] == "1.5 (1.2-1.9)"
    assert not any("(ref:" in label for label in shown["term"])  # the row says it instead
    assert (
        reference_text("odds ratio") == reference_text("cumulative odds ratio") == REFERENCE_RATIO
    )
    assert reference_text("coefficient") == REFERENCE_DIFFERENCE


def test_predictive_check_groups_in_words(labeller):
    checks = pd.DataFrame(
        {
            "check": ["overall", "province", "category", "category"],
            "variable": ["all", "province", "local_friends", "income_quartile"],
            "level": ["all", "Guangdong", "ge3", "Q4"],
        }
    )
    words = list(check_group_labels(checks, labeller))
    assert words[0] == "Whole sample"
    assert words[1] == "Inflow province: Guangdong"
    assert words[2] == "Number of local friends: 3 or more"
    assert words[3] == labeller.category("income_quartile", "Q4") != "income_quartile: Q4"


def test_report_data_section_reads_labels(tmp_path, default_table):
    tables = tmp_path / "tables"
    tables.mkdir()
    category_table(default_table).to_csv(tables / "table1_table2.csv", index=False)
    continuous_table(default_table).to_csv(tables / "table1_continuous.csv", index=False)
    html = _data_section(ReportInputs(results=tmp_path, models=["model2"]))
    assert "Number of local friends" in html and "3 or more" in html
    assert "With a health record" in html
    for code in ("<td>ge3</td>", "<td>local_friends</td>", "health_record_yes", "age_years"):
        assert code not in html, code


def test_tables_scroll_and_intervals_stay_whole():
    frame = pd.DataFrame({"term": ["a"], "Bayes OR (95% CrI)": ["2.23 (1.75-2.82)"], "n": [3]})
    html = page.table(frame)
    assert html.startswith('<div class="table-wrap">') and html.endswith("</table></div>")
    assert '<td class="interval">2.23 (1.75-2.82)</td>' in html
    assert '<td class="num">3</td>' in html
    assert ".table-wrap { max-width: 100%; overflow-x: auto;" in page.STYLE
    assert "td.interval { white-space: nowrap; }" in page.STYLE.replace(
        "td.num, th.num, td.interval", "td.interval"
    )


def test_contents_link_sections_and_model_headings():
    heading = page.model_heading("checks-model2_slopes", "model2_slopes", "Model 2, random slopes")
    assert heading == (
        '<h3 id="checks-model2_slopes">Model 2, random slopes '
        "<small><code>model2_slopes</code></small></h3>"
    )
    first = page.section("checks", "Posterior predictive checks", heading + "<p>text</p>")
    second = page.section("metadata", "Run metadata", "<p>none</p>")
    other = page.section("heterogeneity", "Heterogeneity", "")
    nav = page.contents([("Health records", [first, "", second]), ("Third study", [other])])
    assert '<li><a href="#checks">Posterior predictive checks</a><ol>' in nav
    assert '<li><a href="#checks-model2_slopes">Model 2, random slopes</a></li>' in nav
    assert "<h3>Health records</h3>" in nav and "<h3>Third study</h3>" in nav
    assert nav.index("#metadata") < nav.index("#heterogeneity")
    assert "<h3>" not in page.contents([("Only study", [second])])  # one study: no title


def test_wide_tables_do_not_widen_the_page(tmp_path, page_overflow):
    wide = pd.DataFrame({f"model {k} OR (95% CrI)": [f"{k}.00 (0.50-1.50)"] * 3 for k in range(30)})
    body = page.section("wide", "Wide", page.table(wide) + page.details("more", page.table(wide)))
    path = tmp_path / "page.html"
    path.write_text(
        f"<!DOCTYPE html><html><head><style>{page.STYLE}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    assert page_overflow(path) == 0
    unwrapped = tmp_path / "unwrapped.html"
    unwrapped.write_text(
        path.read_text(encoding="utf-8").replace('class="table-wrap"', ""), encoding="utf-8"
    )
    assert page_overflow(unwrapped) > 0  # the measure sees overflow where there is some


def test_ame_and_weights_tables_read_as_labelled_rows(labeller):
    ame = pd.DataFrame(
        {
            "model": "model2",
            "variable": ["local_friends", "age_years"],
            "contrast": ["ge3 vs lt3", "per unit (derivative)"],
            "outcome": "probability",
            "estimate": [0.05, -0.002],
            "ci_low": [0.01, -0.004],
            "ci_high": [0.09, 0.0],
        }
    )
    shown = ame_display(ame, labeller)
    assert list(shown["term"]) == [
        "Number of local friends: Fewer than 3",
        "Number of local friends: 3 or more",
        labeller.term("age_years", ["age_years"]),
    ]
    assert list(shown["AME (95% CrI)"]) == [
        REFERENCE_DIFFERENCE,
        "0.050 (0.010 to 0.090)",
        "-0.002 (-0.004 to 0.000)",
    ]
    assert "logit AME (95% CI)" not in shown  # no frequentist AMEs given
    weights = pd.DataFrame(
        {
            "term": ["local_friends_ge3"],
            **{
                f"{w}_{k}": [v]
                for w in ("unweighted", "weighted")
                for k, v in (("or", 1.5), ("low", 1.2), ("high", 1.9))
            },
            "shift_in_sd": [0.25],
            "width_ratio": [1.1],
        }
    )
    shown = weighting_display(weights, labeller, ["local_friends"])
    assert list(shown["term"]) == [
        "Number of local friends: Fewer than 3",
        "Number of local friends: 3 or more",
    ]
    assert list(shown["weighted OR (95% CrI)"]) == [REFERENCE_RATIO, "1.50 (1.20-1.90)"]
    assert list(shown["shift (unweighted SDs)"]) == ["", "0.25"]


def test_ordinal_ame_outcome_categories_read_as_level_labels():
    from cmds_common.declarations import parse_declarations

    declarations = parse_declarations(
        "variables:\n"
        "  srh:\n"
        "    type: ordinal\n"
        "    label: Self-rated health\n"
        "    levels: [unhealthy, healthy]\n"
        "    level_labels: {unhealthy: Unhealthy, healthy: Healthy}\n"
        "  sex:\n"
        "    type: categorical\n"
        "    levels: [male, female]\n",
        "test.yaml",
    )
    ame = pd.DataFrame(
        {
            "variable": "sex",
            "contrast": "female vs male",
            "outcome": ["P(unhealthy)", "P(healthy)"],
            "estimate": [0.01, -0.01],
            "ci_low": [0.0, -0.02],
            "ci_high": [0.02, 0.0],
        }
    )
    labeller = TermLabeller(declarations)
    shown = ame_display(ame, labeller, "srh")
    assert list(shown["outcome"].iloc[-2:]) == ["P(Unhealthy)", "P(Healthy)"]
    assert "P(unhealthy)" in list(ame_display(ame, labeller)["outcome"])  # no outcome: as given


def test_a_failed_fit_is_marked_on_its_own_table(tmp_path):
    from analysis.report import _gate_failure

    tables = tmp_path / "tables"
    tables.mkdir()
    checks = pd.DataFrame(
        {
            "model": "model2",
            "check": ["r_hat", "ess_bulk", "r_hat"],
            "parameter": ["intercept", "intercept", "beta[age_years]"],
            "passed": [True, False, False],
        }
    )
    checks.to_csv(tables / "convergence_model2.csv", index=False)
    checks.assign(passed=True).to_csv(tables / "convergence_model1.csv", index=False)
    inputs = ReportInputs(results=tmp_path, models=["model1", "model2"])
    mark = _gate_failure(inputs, "model2")
    assert 'class="fail"' in mark and "FAILED the convergence checks (2 checks" in mark
    assert _gate_failure(inputs, "model1") == ""  # passed: no mark
    assert _gate_failure(inputs, "model0") == ""  # no checks written: no mark
