"""Model specs: formula parsing, shipped specs, user-written specs."""

from __future__ import annotations

import re

import pytest

from cmds_common.spec import (
    ModelSpec,
    ParsedFormula,
    SpecError,
    load_spec,
    parse_formula,
    spec_from_dict,
    spec_to_yaml,
)


def test_parse_formula_with_group():
    parsed = parse_formula("health_record ~ income_quartile + hukou+age_years + (1 | province)")
    assert parsed.outcome == "health_record"
    assert parsed.predictors == ("income_quartile", "hukou", "age_years")
    assert parsed.group == "province" and parsed.group_slopes == ()


def test_parse_formula_without_group_or_terms():
    assert parse_formula("y ~ 1") == ParsedFormula("y", (), (), ())
    assert parse_formula("y ~ a") == ParsedFormula("y", ("a",), ("a",), ())
    assert parse_formula("y ~ 1").group is None


def test_parse_random_slopes():
    parsed = parse_formula("y ~ a + b + c + (1 + a + c | g)")
    assert parsed.group == "g" and parsed.group_slopes == ("a", "c")


def test_interactions_expand_like_r():
    parsed = parse_formula("y ~ a * b + c:d + (1 | g)")
    assert parsed.terms == ("a", "b", "a:b", "c:d")
    assert parsed.predictors == ("a", "b", "c", "d")


def test_several_and_nested_grouping_factors():
    parsed = parse_formula("y ~ a + (1 | province) + (1 | city)")
    assert [g.factor for g in parsed.groups] == [("province",), ("city",)]
    nested = parse_formula("y ~ a + (1 | province/city)")
    assert [g.name for g in nested.groups] == ["province", "province_city"]
    assert nested.groups[1].formula == "(1 | province:city)"
    assert parse_formula("y ~ a + (a | g)").groups[0].slopes == ("a",)


def test_formula_round_trips_through_the_parser():
    spec = spec_from_dict(
        {"name": "m", "formula": "y ~ a*b + (1 + a | province) + (1 | province/city)"}
    )
    assert spec.formula == "y ~ a + b + a:b + (1 + a | province) + (1 | province:city)"
    assert spec_from_dict({"name": "m", "formula": spec.formula}) == spec
    assert spec.used_columns() == ["y", "a", "b", "province", "city"]


def test_families():
    spec = spec_from_dict({"name": "m", "formula": "k ~ a", "family": "binomial", "trials": "n"})
    assert (spec.family, spec.trials) == ("binomial", "n")
    assert "n" in spec.used_columns()
    assert spec_from_dict({"name": "m", "formula": "y ~ a"}).family == "bernoulli"
    import yaml

    assert spec_from_dict(yaml.safe_load(spec_to_yaml(spec))) == spec
    assert "family" not in spec_to_yaml(load_spec("model2"))


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"family": "poisson"}, "unknown family 'poisson'"),
        ({"family": "binomial"}, "'trials:' column"),
        ({"trials": "n"}, "'trials:' column"),
        ({"formula": "y ~ a + b + (1 + a | g) + (1 + b | h)"}, "more than one grouping factor"),
        ({"formula": "y ~ log(a)"}, "src.yaml: cannot read term"),
    ],
)
def test_bad_family_or_terms_name_the_file(raw, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        spec_from_dict({"name": "m", "formula": "y ~ a + b", **raw}, "src.yaml")


@pytest.mark.parametrize(
    "formula, fragment",
    [
        ("health_record income_quartile", "exactly one '~'"),
        ("a + b ~ c", "outcome must be one variable"),
        ("y ~ a + a", "appears twice"),
        ("y ~ log(a)", "cannot read term"),
        ("y ~ C(a)", "cannot read term"),
        ("y ~ a + (1 | log(g))", "cannot read term"),
        ("y ~ a + (1 + b | g)", "random slopes ['b'] must also be fixed terms"),
    ],
)
def test_bad_formulas_are_named(formula, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        parse_formula(formula)


def test_shipped_specs():
    model1, model2 = load_spec("model1"), load_spec("model2")
    assert model1.published_model == 1 and model2.published_model == 2
    assert model1.group == model2.group == "province"
    assert len(model1.predictors) == 5 and len(model2.predictors) == 10
    assert set(model1.predictors) < set(model2.predictors)
    assert model1.weights == "weight"


def test_user_spec_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: friends_only\nformula: health_record ~ local_friends + (1 | province)\n"
        "reference_levels: {local_friends: ge3}\npriors: {coefficient_sd: 0.5}\n",
        encoding="utf-8",
    )
    spec = load_spec(path)
    assert spec.name == "friends_only"
    assert spec.reference_levels == {"local_friends": "ge3"}
    assert spec.priors.coefficient_sd == 0.5 and spec.priors.intercept_sd == 1.5


def test_spec_round_trips_through_yaml():
    import yaml

    spec = load_spec("model2")
    again = spec_from_dict(yaml.safe_load(spec_to_yaml(spec)))
    assert again == spec
    assert isinstance(again, ModelSpec)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"formula": "y ~ a"}, "missing required key 'name'"),
        ({"name": "m", "formula": "y ~ a", "colour": 1}, "unknown keys"),
        ({"name": "m", "formula": "y ~ a", "priors": {"intercept_sd": -1}}, "must be positive"),
        ({"name": "m", "formula": "y ~ a", "priors": {"slope_sd": 1}}, "bad priors"),
        ({"name": "m", "formula": "y ~ a", "reference_levels": {"b": "x"}}, "not in the formula"),
        ({"name": "m", "formula": "y ~ a", "group_predictors": ["gdp"]}, "need a group term"),
    ],
)
def test_bad_specs(raw, fragment):
    with pytest.raises(SpecError, match=fragment):
        spec_from_dict(raw)


def test_unknown_shipped_spec():
    with pytest.raises(SpecError, match="no shipped spec named 'model9'"):
        load_spec("model9")
