"""Loading and validating scenarios: bundled files, user files and ``--set`` overrides.

Every error must be one line naming the file, the field path and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mini_scenario import MINI

from market.errors import UserError
from market.scenario import (
    Scenario,
    bundled_paths,
    list_scenarios,
    load_scenario,
    month_index,
    month_label,
    parse_value,
    resolve,
)


def write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(ref, overrides=()) -> str:
    with pytest.raises(UserError) as info:
        load_scenario(str(ref), overrides)
    msg = str(info.value)
    assert "\n" not in msg, "an error is one line"
    return msg


# ---------------------------------------------------------------------------- bundled


def test_baseline_is_bundled():
    assert "baseline-2026" in bundled_paths()


@pytest.mark.parametrize("name", sorted(bundled_paths()))
def test_every_bundled_scenario_validates(name):
    s = load_scenario(name)
    assert isinstance(s, Scenario)
    assert s.name == name  # the file's stem is the scenario's name, as listed and in summary.json
    assert s.title and s.months > 0
    assert load_scenario(str(bundled_paths()[name])) == s  # by name or by path, the same


def test_list_scenarios_matches_the_files():
    assert sorted(s.name for s in list_scenarios()) == sorted(bundled_paths())


def test_baseline_content():
    s = load_scenario("baseline-2026")
    assert s.market.start == "2026-01"
    assert {p.name for p in s.providers} >= {"CoreWeave", "Nebius", "Lambda", "Crusoe", "AWS", "Azure"}
    cw = next(p for p in s.providers if p.name == "CoreWeave")
    assert cw.kind == "neocloud" and cw.debt + sum(d.amount for d in cw.debt_tranches) == pytest.approx(2.5e10)


def test_mini_file_is_valid(tmp_path):
    s = load_scenario(str(write(tmp_path, MINI)))
    assert s.name == "mini" and s.months == 3
    # defaults fill what the file leaves out
    assert s.market.base_rate == pytest.approx(0.043)
    assert s.providers[0].pricing.strategy == "cost_plus"


# ---------------------------------------------------------------------------- file errors


def test_malformed_toml(tmp_path):
    p = write(tmp_path, MINI.replace('title = "A tiny market"', "title = "))
    msg = error_of(p)
    assert str(p) in msg
    assert "not valid TOML" in msg
    assert "line 2" in msg


# Field paths name list items by their ``name`` where they have one (``providers.Cloudy.cash``),
# the way ``--set`` addresses them; items without a name (fleet cohorts, contracts) by index.


def test_missing_field(tmp_path):
    p = write(tmp_path, MINI.replace("powered_mw = 20\n", ""))
    msg = error_of(p)
    assert msg == f"{p}: providers.Cloudy.powered_mw: required field is missing"


def test_wrong_type(tmp_path):
    p = write(tmp_path, MINI.replace("powered_mw = 20", 'powered_mw = "lots"'))
    msg = error_of(p)
    assert msg.startswith(f"{p}: providers.Cloudy.powered_mw: ")
    assert "valid number" in msg and "'lots'" in msg


def test_unknown_key(tmp_path):
    p = write(tmp_path, MINI.replace("months = 3", "months = 3\nmonhts = 4"))
    assert error_of(p) == f"{p}: market.monhts: unknown key"


def test_unknown_key_in_a_list_item(tmp_path):
    p = write(tmp_path, MINI.replace('kind = "lab"', 'kind = "lab"\ncolour = "red"'))
    assert error_of(p) == f"{p}: buyers.Lab.colour: unknown key"


def test_negative_quantity(tmp_path):
    p = write(tmp_path, MINI.replace("gpus = 5000", "gpus = -5000"))
    msg = error_of(p)
    assert msg.startswith(f"{p}: providers.Cloudy.fleet.0.gpus: ")
    assert "greater than or equal to 0" in msg and "-5000" in msg


def test_negative_money(tmp_path):
    p = write(tmp_path, MINI.replace("cash = 1e9\npowered_mw", "cash = -1e9\npowered_mw"))
    msg = error_of(p)
    assert msg.startswith(f"{p}: providers.Cloudy.cash: ") and "greater than or equal to 0" in msg


def test_unknown_reference(tmp_path):
    p = write(tmp_path, MINI.replace('seller = "Cloudy"', 'seller = "Nobody"'))
    msg = error_of(p)
    assert msg.startswith(f"{p}: buyers.Lab.contracts.0.seller: unknown name 'Nobody'")
    assert "Cloudy" in msg  # what was expected


def test_unknown_generation(tmp_path):
    p = write(tmp_path, MINI.replace('fleet = [{ generation = "H100"', 'fleet = [{ generation = "H999"'))
    msg = error_of(p)
    assert msg.startswith(f"{p}: providers.Cloudy.fleet.0.generation: unknown name 'H999'")


def test_bad_month(tmp_path):
    p = write(tmp_path, MINI.replace('launch = "2023-03"', 'launch = "2023-13"'))
    msg = error_of(p)
    assert msg.startswith(f"{p}: generations.H100.launch: ") and "2023-13" in msg


def test_duplicate_names(tmp_path):
    p = write(tmp_path, MINI.replace('name = "Lab"', 'name = "Cloudy"'))
    msg = error_of(p)
    assert str(p) in msg and "Cloudy" in msg


def test_unknown_event_kind(tmp_path):
    p = write(tmp_path, MINI + '\n[[events]]\nkind = "meteor"\nmonth = "2026-02"\n')
    msg = error_of(p)
    assert msg.startswith(f"{p}: events.0") and "meteor" in msg and "rate_change" in msg


def test_event_naming_an_unknown_company(tmp_path):
    p = write(tmp_path, MINI + '\n[[events]]\nkind = "customer_cancel"\nmonth = "2026-02"\nbuyer = "Nobody"\n')
    assert error_of(p).startswith(f"{p}: events.0.buyer: unknown name 'Nobody'")


def test_several_errors_are_counted(tmp_path):
    p = write(tmp_path, MINI.replace("powered_mw = 20", 'powered_mw = "x"').replace("cash = 1e9\ninf", 'cash = "y"\ninf'))
    assert "(and 1 more)" in error_of(p)


def test_missing_file_and_unknown_name(tmp_path):
    assert error_of(tmp_path / "nothere.toml") == f"{tmp_path / 'nothere.toml'}: no such scenario file"
    msg = error_of("no-such-scenario")
    assert msg.startswith("no-such-scenario: unknown scenario") and "baseline-2026" in msg


def test_resolve(tmp_path):
    assert resolve("baseline-2026") == bundled_paths()["baseline-2026"]
    p = write(tmp_path, MINI)
    assert resolve(str(p)) == p


# ---------------------------------------------------------------------------- --set


def test_set_by_index_and_by_name():
    s = load_scenario("baseline-2026", ["providers.0.cash=2e9", "providers.Nebius.debt=1e9",
                                        "buyers.Meta AI.cash=5", "market.base_rate=0.05"])
    by = {p.name: p for p in s.providers}
    assert by["CoreWeave"].cash == 2e9
    assert by["Nebius"].debt == 1e9
    assert next(b for b in s.buyers if b.name == "Meta AI").cash == 5
    assert s.market.base_rate == 0.05


def test_set_by_list_item_name_deep():
    s = load_scenario("baseline-2026", {"providers.CoreWeave.cash": 1e9,
                                        "providers.CoreWeave.fleet.0.gpus": 1,
                                        "providers.CoreWeave.pricing.strategy": "sticky"})
    cw = s.providers[0]
    assert cw.name == "CoreWeave" and cw.cash == 1e9 and cw.fleet[0].gpus == 1 and cw.pricing.strategy == "sticky"


def test_set_leaves_the_file_untouched():
    load_scenario("baseline-2026", {"providers.CoreWeave.cash": 1.0})
    assert load_scenario("baseline-2026").providers[0].cash == 3.0e9


def test_set_a_section_left_to_its_defaults(tmp_path):
    # mini has no [negotiation] section: the override creates it
    s = load_scenario(str(write(tmp_path, MINI)), ["negotiation.rounds=7"])
    assert s.negotiation.rounds == 7


def test_set_events_inline():
    s = load_scenario("baseline-2026", ['events=[{kind="rate_change", month="2026-03", bps=100}]'])
    assert len(s.events) == 1 and s.events[0].bps == 100


def test_set_is_validated_like_the_file():
    msg = error_of("baseline-2026", ["providers.CoreWeave.cash=-1"])
    assert "--set providers.CoreWeave.cash" in msg
    assert "providers.CoreWeave.cash" in msg and "greater than or equal to 0" in msg
    assert "baseline-2026.toml" in msg


def test_set_wrong_type():
    msg = error_of("baseline-2026", ["market.months=many"])
    assert "market.months" in msg and "'many'" in msg and "integer" in msg


def test_set_unknown_key():
    msg = error_of("baseline-2026", ["market.nonsense=1"])
    assert msg.endswith("market.nonsense: unknown key")
    assert "baseline-2026.toml" in msg


def test_set_unknown_top_level_key():
    assert error_of("baseline-2026", ["nonsense.x=1"]).endswith("nonsense: unknown key")


def test_set_index_out_of_range():
    msg = error_of("baseline-2026", ["providers.99.cash=1"])
    assert "--set providers.99.cash" in msg and "no item '99'" in msg and "baseline-2026.toml" in msg


def test_set_unknown_item_name():
    msg = error_of("baseline-2026", ["providers.Vultr.cash=1"])
    assert "no item 'Vultr' at providers.Vultr" in msg


def test_set_below_a_value():
    msg = error_of("baseline-2026", ["market.months.x=1"])
    assert "market.months is a value, not a section" in msg


@pytest.mark.parametrize("text", ["market.months", "=5", "market..months=5"])
def test_set_malformed(text):
    msg = error_of("baseline-2026", [text])
    assert "--set" in msg


def test_parse_value():
    assert parse_value("3") == 3
    assert parse_value("1e9") == 1e9
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("sticky") == "sticky"
    assert parse_value("2026-03") == "2026-03"
    assert parse_value('"quoted"') == "quoted"


def test_month_arithmetic():
    assert month_index("2027-02", "2026-01") == 13
    assert month_index("2025-12", "2026-01") == -1
    assert month_label(13, "2026-01") == "2027-02"
    assert month_label(-1, "2026-01") == "2025-12"
    for i in range(-30, 30):
        assert month_index(month_label(i, "2026-05"), "2026-05") == i


# ---------------------------------------------------------------------------- inheritance (base = ...)


def test_teaching_scenarios_inherit_from_the_baseline_and_state_only_their_differences():
    teaching = [n for n in bundled_paths() if n not in ("baseline-2026", "scale")]
    assert len(teaching) == 13
    base = load_scenario("baseline-2026").model_dump()
    for name in teaching:
        text = bundled_paths()[name].read_text()
        assert 'base = "baseline-2026"' in text, name
        assert len(text.splitlines()) < 40, name  # its differences, not a copy of 677 lines
        s = load_scenario(name)
        assert s.name == name
        # each stages at least one event, or changes a provider's terms (depreciation-4y) or
        # NVIDIA's (nvidia-backs-neocloud)
        assert (s.events or [p.model_dump() for p in s.providers] != base["providers"]
                or s.nvidia.model_dump() != base["nvidia"]), name
        assert [p.name for p in s.providers] == [p["name"] for p in base["providers"]]
        assert [b.name for b in s.buyers] == [b["name"] for b in base["buyers"]]
        assert s.model_dump()["generations"] == base["generations"]


def test_meta_sells_capacity_changes_one_field_of_one_provider():
    base = {p.name: p.model_dump() for p in load_scenario("baseline-2026").providers}
    child = {p.name: p.model_dump() for p in load_scenario("meta-sells-capacity").providers}
    assert child["Meta Compute"]["active_from"] == "2029-01" != base["Meta Compute"]["active_from"]
    child["Meta Compute"]["active_from"] = base["Meta Compute"]["active_from"]
    assert child == base  # everything else of every provider is inherited


CHILD = """\
base = "parent.toml"
title = "A child"

[market]
months = 5

[[providers]]
name = "Cloudy"
cash = 2e9
[providers.pricing]
markup = 0.5

[[providers]]
name = "Rainy"
kind = "neocloud"
cash = 1e8
powered_mw = 5

[[events]]
name = "hike"
kind = "rate_change"
month = "2026-02"
bps = 100
"""


def family(tmp_path: Path, child: str = CHILD, parent: str = MINI) -> Path:
    write(tmp_path, parent, "parent.toml")
    return write(tmp_path, child, "child.toml")


def test_a_child_merges_tables_and_named_items(tmp_path):
    s = load_scenario(str(family(tmp_path)))
    assert s.name == "child"  # a file that inherits and names nothing is named after itself
    assert s.title == "A child" and s.months == 5
    assert s.market.start == "2026-01"  # default of the parent, untouched
    assert [p.name for p in s.providers] == ["Cloudy", "Rainy"]  # merged by name, new name appended
    cloudy = s.providers[0]
    assert cloudy.cash == 2e9 and cloudy.pricing.markup == 0.5
    assert cloudy.powered_mw == 20 and cloudy.fleet[0].gpus == 5000  # inherited
    assert s.buyers[0].contracts[0].seller == "Cloudy"
    assert [e.name for e in s.events] == ["hike"]


def test_a_grandchild_and_events_merge_by_name_or_append(tmp_path):
    family(tmp_path)
    g = write(tmp_path, 'base = "child.toml"\nname = "g"\n[[events]]\nname = "hike"\nkind = "rate_change"\n'
              'month = "2026-02"\nbps = 250\n[[events]]\nkind = "scaling_plateau"\nmonth = "2026-03"\n', "g.toml")
    s = load_scenario(str(g))
    assert s.name == "g" and s.months == 5
    assert [(e.kind, e.name) for e in s.events] == [("rate_change", "hike"), ("scaling_plateau", None)]
    assert s.events[0].bps == 250


def test_remove_drops_an_inherited_item(tmp_path):
    family(tmp_path)
    g = write(tmp_path, 'base = "child.toml"\n[[providers]]\nname = "Rainy"\nremove = true\n'
              '[[events]]\nname = "hike"\nremove = true\n', "g.toml")
    s = load_scenario(str(g))
    assert [p.name for p in s.providers] == ["Cloudy"] and s.events == []
    # an item cannot be removed in the file that adds it
    assert "no inherited item named 'Rainy'" in error_of(family(tmp_path, CHILD + '[[providers]]\nname = "Rainy"\nremove = true\n'))


def test_other_lists_are_replaced_whole(tmp_path):
    c = family(tmp_path, CHILD.replace("cash = 2e9", 'cash = 2e9\nfleet = [{ generation = "H100", gpus = 7, '
                                                    'installed = "2025-02", unit_cost = 40000 }]'))
    fleet = load_scenario(str(c)).providers[0].fleet
    assert [(f.gpus, f.installed) for f in fleet] == [(7, "2025-02")]


def test_a_bundled_base_by_name_and_set_on_the_merged_result(tmp_path):
    c = write(tmp_path, 'base = "baseline-2026"\nname = "mine"\n[[providers]]\nname = "Lambda"\ncash = 1.5e9\n')
    s = load_scenario(str(c), ["providers.Lambda.debt=7", "providers.CoreWeave.cash=4e9"])
    by = {p.name: p for p in s.providers}
    assert by["Lambda"].cash == 1.5e9 and by["Lambda"].debt == 7 and by["CoreWeave"].cash == 4e9
    assert by["Nebius"] == {p.name: p for p in load_scenario("baseline-2026").providers}["Nebius"]


def test_errors_name_the_file_the_bad_value_came_from(tmp_path):
    c = family(tmp_path, CHILD.replace("cash = 2e9", "cash = -2e9"))
    assert error_of(c).startswith(f"{c}: providers.Cloudy.cash: ")
    c = family(tmp_path, CHILD, MINI.replace("powered_mw = 20", "powered_mw = -20"))
    parent = tmp_path / "parent.toml"
    assert error_of(c).startswith(f"{parent} (inherited by {c}): providers.Cloudy.powered_mw: ")
    msg = error_of(c, ["providers.Cloudy.powered_mw=-3"])
    assert msg.startswith(f"{c} with --set providers.Cloudy.powered_mw: providers.Cloudy.powered_mw: ")
    c = family(tmp_path, CHILD + '\n[[buyers]]\nname = "Lab"\ncaptive_to = "Nobody"\n')
    assert error_of(c).startswith(f"{c}: buyers.Lab.captive_to: unknown name 'Nobody'")


def test_inheritance_cycles_and_bad_bases_are_refused(tmp_path):
    a = write(tmp_path, 'base = "b.toml"\n', "a.toml")
    write(tmp_path, 'base = "a.toml"\n', "b.toml")
    msg = error_of(a)
    assert "circle" in msg and "a.toml -> b.toml -> a.toml" in msg
    assert "no such scenario file" in error_of(write(tmp_path, 'base = "nope.toml"\n', "c.toml"))
    assert "unknown scenario 'nope'" in error_of(write(tmp_path, 'base = "nope"\n', "d.toml"))
    assert "no inherited item named 'X'" in error_of(
        write(tmp_path, 'base = "baseline-2026"\n[[buyers]]\nname = "X"\nremove = true\n', "e.toml"))


# ---------------------------------------------------------------------------- the edge: values and files


@pytest.mark.parametrize(("old", "new", "words"), [
    ("cash = 1e9\npowered_mw", "cash = inf\npowered_mw", "finite number"),
    ("cash = 1e9\npowered_mw", "cash = nan\npowered_mw", "finite number"),
    ("powered_mw = 20", "powered_mw = true", "valid number"),
    ("powered_mw = 20", 'powered_mw = "20"', "valid number"),
    ("gpus = 5000", "gpus = 5000.0", "valid integer"),
    ("cash = 1e9\npowered_mw", "cash = 1e300\npowered_mw", "less than or equal to 10000000000000"),
])
def test_numbers_are_finite_in_range_and_not_booleans_or_strings(tmp_path, old, new, words):
    assert words in error_of(write(tmp_path, MINI.replace(old, new, 1)))


def test_size_limits_and_the_flag_that_lifts_them(tmp_path):
    p = write(tmp_path, MINI.replace('kind = "lab"', 'kind = "lab"\ncount = 30000'))
    msg = error_of(p)
    assert "30,000 buyers" in msg and "--allow-large" in msg
    assert sum(b.count for b in load_scenario(str(p), allow_large=True).buyers) == 30000
    assert "--allow-large" in error_of("baseline-2026", ["market.months=601"])
    assert load_scenario("baseline-2026", ["market.months=601"], allow_large=True).months == 601
    assert load_scenario("baseline-2026", ["market.months=600"]).months == 600
    # growth that compounds past finite figures is refused whatever the flag
    msg = error_of("baseline-2026", ["market.months=5000"])
    assert "--allow-large" in msg
    with pytest.raises(UserError, match="over 5000 months takes"):
        load_scenario("baseline-2026", ["market.months=5000"], allow_large=True)  # output or projects


def test_files_must_be_utf8_and_shallow(tmp_path):
    p = tmp_path / "latin.toml"
    p.write_bytes(MINI.replace("A tiny market", "Un marché").encode("latin-1"))
    assert "not UTF-8 text (byte 0xe9" in error_of(p)
    p.write_bytes(b"\xef\xbb\xbf" + MINI.encode())  # a UTF-8 byte-order mark is fine
    assert load_scenario(str(p)).name == "mini"
    p.write_text("x = " + "[" * 40 + "]" * 40 + "\n" + MINI)
    assert "nest deeper than 32" in error_of(p)
    p.write_text("x = " + "[" * 20 + "]" * 20 + "\n" + MINI)  # moderate nesting reaches the schema
    assert error_of(p).endswith("x: unknown key")


def test_nesting_depth_ignores_brackets_in_strings_and_comments():
    from market.scenario import nesting_depth

    assert nesting_depth('a = "[[[[" # [[[[\nb = \'{{{\'\nc = """\n[[[\n"""\nd = [[1]]') == 2
    assert nesting_depth('a = "\\"[[["') == 0


def test_a_name_may_hold_markup_but_not_control_characters(tmp_path):
    s = load_scenario("baseline-2026", ["title=Oops [/] title", "providers.Lambda.name=Lam[/]bda"])
    assert s.title == "Oops [/] title" and s.providers[2].name == "Lam[/]bda"
    assert "title" in error_of("baseline-2026", ["title=a\x1b[31mb"])


def test_the_example_in_the_docs_validates(tmp_path):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text()
    block = doc.split("## Scenarios that inherit")[1].split("```toml\n")[1].split("```")[0]
    s = load_scenario(str(write(tmp_path, block, "lambda-rich.toml")))
    assert s.name == "lambda-rich" and s.months == 48
    by = {p.name: p for p in s.providers}
    assert by["Lambda"].cash == 2.0e9 and by["Lambda"].pricing.markup == 0.7 and "Newcloud" in by
    assert "Jane Street" not in {b.name for b in s.buyers} and len(s.events) == 1
