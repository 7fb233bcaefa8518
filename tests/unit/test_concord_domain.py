"""The Concord domain without I/O: the YAML reader's caps, expressions, form checks, the compiler and the machine."""

from __future__ import annotations

import pytest

from events.concord.forms import FormField, accept, convert, field_error, parse_form
from events.concord.project import load_project, parse_duration
from events.concord.runtime import RunLimits
from events.concord.safe_yaml import YamlLimits, load_yaml
from events.expressions.el import ExpressionError, ExpressionSyntaxError, UndefinedVariable, parse_template, render
from events.flows.graph import WorkflowError
from events.instance import ProcessInstance
from events.workflow import compile_workflow


def value(text: str, **variables):
    return render(parse_template(text), lambda name: (name in variables, variables.get(name)))


@pytest.mark.parametrize(("text", "expected"), [
    ("${1 + 2 * 3}", 7), ("${7 / 2}", 3.5), ("${-7 % 3}", -1), ("${'5' + 1}", 6), ("${1 < 2 && 2 le 2}", True),
    ("${!true || not false}", True), ("${empty ''}", True), ("${empty [1]}", False), ("${x > 1 ? 'a' : 'b'}", "a"),
    ("${m.k[1]}", 2), ("${m['k'][5]}", None), ("${n.missing}", None), ("a${x}b", "a3b"), ("${m}", {"k": [1, 2]}),
    ("v=${m}", "v={k=[1, 2]}"), ("${s.toUpperCase().trim()}", "HI"), ("${hasVariable('m.k')}", True),
    ("${orDefault('nope', 4)}", 4), ("${null == n.missing}", True), ("${1 == 1.0}", True), ("${'}'}", "}"),
])
def test_expressions(text: str, expected: object) -> None:
    assert value(text, x=3, m={"k": [1, 2]}, n={}, s=" hi ") == expected


def test_undefined_variables_and_bad_expressions() -> None:
    with pytest.raises(UndefinedVariable) as e:
        value("${nope.x}")
    assert e.value.name == "nope"
    with pytest.raises(ExpressionError):
        value("${'a' * 2}")
    with pytest.raises(ExpressionError):
        value("${x.__class__()}", x=1)
    for bad in ["${1 +}", "${", "${" + "(" * 60 + "1" + ")" * 60 + "}", "${" + "1+" * 3000 + "1}"]:
        with pytest.raises(ExpressionSyntaxError):
            parse_template(bad)


def test_yaml_caps_and_locations() -> None:
    doc = load_yaml("a:\n  - x: 1\n  - y\n", "f.yml")
    assert doc["a"].items_at[1].line == 3 and doc.keys_at["a"].line == 1
    assert load_yaml("on: yes\n", "f.yml") == {"on": True}  # keys stay text
    laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefg", "bcdefgh"))
    for text in [laughs, "x: !!python/name:os.system\n", "x: " + "[" * 100 + "]" * 100, "a: 1\na: 2\n", "<<: {a: 1}\n"]:
        with pytest.raises(WorkflowError):
            load_yaml(text, "f.yml", YamlLimits(max_nodes=10_000))
    with pytest.raises(WorkflowError):
        load_yaml("x" * 100, "f.yml", YamlLimits(max_bytes=50))


def test_form_fields_follow_concords_checks() -> None:
    spec, problems = parse_form("f", [{"a": {"type": "int+", "min": 1}}, {"b": {"type": "string?", "pattern": "x+"}},
                                      {"c": {"type": "boolean"}}, {"d": {"type": "decimal", "max": 1.5}}], "here")
    assert problems == [] and spec is not None
    a, b, c, d = spec.fields
    assert a.cardinality == "AT_LEAST_ONE" and b.cardinality == "ONE_OR_NONE"
    assert convert(a, "3") == [3] and convert(c, "true") is True and convert(d, "1.25") == 1.25
    assert field_error(a, None, None) == "a: Invalid cardinality, expected at least a single value"
    assert field_error(a, [2, 0], None) == "a [1]: value '0' must be equal or greater than 1"
    assert field_error(b, None, None) is None
    assert field_error(b, "y", None) == "b: value 'y' doesn't match pattern 'x+'"
    assert field_error(c, "maybe", None) == "c: expected a boolean value, got maybe"
    assert field_error(d, 2.0, None) == "d: value '2.0' must be less or equal than 1.5"
    values, errors = accept(spec, {"c": {"value": True}}, {"a": ["1", "2"], "d": "0.5"})
    assert values == {"a": [1, 2], "b": None, "c": True, "d": 0.5} and errors == {}
    assert parse_form("f", [{"a": {"type": "date"}}], "here")[1]
    assert FormField("x", "string", "ONE_AND_ONLY_ONE").many is False


def test_the_compiler_refuses_each_unsupported_step_with_its_line() -> None:
    text = "flows:\n  default:\n    - log: ok\n    - script: groovy\n    - call: nowhere\n    - foo: 1\n    - log: '${1 +}'\n"
    with pytest.raises(WorkflowError) as e:
        load_project({"concord.yml": text})
    problems = "\n".join(e.value.problems)
    assert "(line 4): unsupported step 'script'" in problems
    assert "(line 5): call to unknown flow 'nowhere'" in problems
    assert "(line 6): unsupported step with keys 'foo'" in problems
    assert "(line 7): invalid expression" in problems
    assert parse_duration("PT1H30M") == 5400 and parse_duration("soon") is None


def instance(parameters: dict | None = None) -> ProcessInstance:
    return ProcessInstance(definition_id="d", definition_key="k", definition_version=1, initiator="u", owner=None,
                           target_id=None, parameters=parameters or {}, form_data={}, documents=[], assignment={}, attributes={})


def run(text: str, limits: RunLimits = RunLimits(), **parameters) -> tuple[ProcessInstance, list[str]]:
    graph = compile_workflow({"workflow": {"concord": {"concord.yml": text}}}, limits=limits)
    i = instance(parameters)
    i.start(graph, None, "u")
    lines = [line[2] for e in i.collect_events() if type(e).__name__ == "OutputAppended" for line in e.lines]
    return i, lines


def test_the_machine_runs_scopes_loops_and_errors_deterministically() -> None:
    text = """
flows:
  default:
    - set: {a.b: 1}
    - call: inner
      in: {x: 2}
      out: [y]
    - log: "${a.b} ${y} ${hasVariable('x')}"
    - call: inner
      withItems: {k: 5}
      in: {x: "${item.value}"}
    - try:
        - expr: ${nope}
      error:
        - log: "caught"
    - return
    - log: never
  inner:
    - set: {y: "${x * 10}"}
"""
    i, lines = run(text)
    assert lines == ["1 20 false", "caught"]
    assert i.variables["y"] == 50 and str(i.status) == "completed"


def test_budget_and_depth_stop_runaway_flows() -> None:
    endless = "flows:\n  default:\n    - call: default\n"
    i, lines = run(endless, RunLimits(step_budget=1000, max_call_depth=20))
    assert str(i.status) == "failed" and "nested deeper than 20" in lines[-1]
    loop = "flows:\n  default:\n    - log: ${item}\n      withItems: ${items}\n"
    i, lines = run(loop, RunLimits(step_budget=50), items=list(range(100)))
    assert str(i.status) == "failed" and "step budget" in lines[-1] and len(lines) == 51


def test_a_pattern_that_backtracks_for_ages_is_cut_short_and_refused() -> None:
    spec, problems = parse_form("f", [{"a": {"type": "string+", "pattern": "(a|aa)+c", "label": "A"}}], "here")
    assert not problems
    hostile = "a" * 40  # no 'c': the engine would try every way of splitting the a's
    values, errors = accept(spec, {}, {"a": [hostile] * 50})
    assert errors == {"a": f"A [0]: value '{hostile}' could not be checked against pattern '(a|aa)+c' in time"}
    # An ordinary value of the same pattern is still judged as Concord would.
    assert accept(spec, {}, {"a": ["aac"]})[1] == {}
    assert accept(spec, {}, {"a": ["ab"]})[1] == {"a": "A [0]: value 'ab' doesn't match pattern '(a|aa)+c'"}
