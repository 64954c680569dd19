"""The ``spans:`` example in docs/mapping.md is a valid mapping of the payment spec, and
the error messages the doc shows are the ones specmon gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.errors import MappingError
from monitor.mapping import load_mapping
from monitor.specdir import load_specdir

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "mapping.md").read_text()
SPANS = DOC[DOC.index("\n## Spans\n"):]
MODEL = load_specdir(ROOT / "specs" / "payment").model


def test_the_documented_spans_example_loads_against_the_payment_spec():
    example = re.search(r"```yaml\n(.*?)```", SPANS, re.S).group(1)
    mapping = load_mapping(example, filename="doc.yaml", model=MODEL)
    section = mapping.spans.section
    assert sorted(section.by_name) == ["payment.authorize", "payment.capture", "payment.void"]
    assert list(section.by_event) == ["refund.issued"]


ERRORS = re.search(r"### Errors in the section\n.*?```\n(.*?)```", SPANS, re.S).group(1)


@pytest.mark.parametrize("line", ERRORS.strip().splitlines())
def test_each_documented_error_is_what_a_matching_mistake_gives(line):
    where = line.split(": ")[1]
    rule = re.search(r"rules\[(\d)\]", where)
    mistakes = {
        "action": "    - {when: {name: b}, action: cancel}\n",
        "args.amont": "    - {when: {name: a}, action: capture, args: {amont: x}}\n",
        "args": "    - {when: {name: a}, action: capture}\n",
        "when.kind": "    - {when: {kind: serverr}, action: void}\n",
        "args.amount": "    - {when: {name: a}, action: capture, args: {amount: "
                       "{event: refund.amount}}}\n",
        "key": "    - {when: {name: a}, action: void}\n",
    }
    field = where.split("].", 1)[1]
    filler = "".join(f"    - {{when: {{name: f{i}}}, action: void}}\n"
                     for i in range(int(rule.group(1))))
    head = "" if field == "key" else "  key: payment.id\n"
    text = f"spans:\n{head}  rules:\n{filler}{mistakes[field]}"
    with pytest.raises(MappingError) as info:
        load_mapping(text, filename="specs/shop/mapping.yaml", model=MODEL)
    assert str(info.value) == line
