"""The published figures shipped inside the project."""

from __future__ import annotations

from cmds_common import reference


def test_published_tables_load_and_are_consistent():
    tables = reference.table1_table2()
    total = tables.set_index("variable").loc["all"]
    assert (total["n"], total["yes_n"], total["no_n"]) == (3158, 1313, 1845)
    for variable, rows in tables.query("variable != 'all'").groupby("variable"):
        assert rows["n"].sum() == 3158, variable
    flow = reference.sample_flow()["n"].tolist()
    assert flow[0] - flow[1] - flow[2] == flow[3] == 3158


def test_every_table3_row_maps_to_a_model_term():
    table3 = reference.table3()
    assert len(table3) == 7 + 12
    assert table3["term"].notna().all()
