"""processes.steps.template: text from inline or file templates, escaped for XML/HTML."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import BodyKind, Document
from runtime.core.engine import ExecutionStatus
from runtime.formats.codecs import parse_xml
from tests.helpers import load_process, run_steps, steps_process, validate_files

CSV = """\
- template:
    media_type: text/csv
    text: |-
      order_id,amount
      {% for order in doc %}{{ order.id }},{{ '%.2f' | format(order.amount) }}
      {% endfor %}
"""


async def test_inline_template(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path, CSV, Document.json([{"id": "A-1", "amount": 10.5}, {"id": "A-2", "amount": 99}])
    )
    (document,) = result.documents
    assert document.kind is BodyKind.TEXT
    assert document.media_type == "text/csv"
    assert document.body == "order_id,amount\nA-1,10.50\nA-2,99.00\n"


async def test_template_sees_props_and_keeps_them(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- template: {text: 'Hello {{ props.who }}, {{ doc.n + 1 }}'}",
        Document.json({"n": 1}, {"who": "Ada"}),
    )
    (document,) = result.documents
    assert (document.body, document.media_type) == ("Hello Ada, 2", "text/plain")
    assert document.properties == {"who": "Ada"}


async def test_file_template_relative_to_the_process(tmp_path: Path) -> None:
    process = steps_process(
        tmp_path,
        "- template: {file: order.xml.j2, media_type: application/xml}",
        files={"order.xml.j2": '<order id="{{ doc.id }}"><note>{{ doc.note }}</note></order>\n'},
    )
    result = await process.execute([Document.json({"id": "A&B", "note": '1 < 2 & "3"'})])
    (document,) = result.documents
    assert document.media_type == "application/xml"
    # XML media types escape by default, so the output stays well-formed.
    assert document.body == (
        '<order id="A&amp;B"><note>1 &lt; 2 &amp; &#34;3&#34;</note></order>\n'
    )
    parsed = parse_xml(document.body)
    assert parsed.get("id") == "A&B"
    assert parsed.findtext("note") == '1 < 2 & "3"'


async def test_html_is_escaped_and_escaping_can_be_turned_off(tmp_path: Path) -> None:
    doc = {"x": "<b>&</b>"}
    html = await run_steps(
        tmp_path,
        "- template: {text: '<p>{{ doc.x }}</p>', media_type: text/html}",
        Document.json(doc),
    )
    assert html.documents[0].body == "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>"
    raw_xml = await run_steps(
        tmp_path,
        "- template: {text: '<p>{{ doc.x }}</p>', media_type: application/xml, autoescape: false}",
        Document.json(doc),
    )
    assert raw_xml.documents[0].body == "<p><b>&</b></p>"
    forced = await run_steps(
        tmp_path, "- template: {text: '{{ doc.x }}', autoescape: true}", Document.json(doc)
    )
    assert forced.documents[0].body == "&lt;b&gt;&amp;&lt;/b&gt;"
    plain = await run_steps(tmp_path, "- template: {text: '{{ doc.x }}'}", Document.json(doc))
    assert plain.documents[0].body == "<b>&</b>"


async def test_media_type_parameters_do_not_turn_escaping_off(tmp_path: Path) -> None:
    for media_type in ("text/html; charset=utf-8", "application/xml; charset=utf-8"):
        result = await run_steps(
            tmp_path,
            f"- template: {{text: '<p>{{{{ doc.x }}}}</p>', media_type: '{media_type}'}}",
            Document.json({"x": "<script>&"}),
        )
        assert result.documents[0].media_type == media_type
        assert result.documents[0].body == "<p>&lt;script&gt;&amp;</p>", media_type


async def test_template_over_xml_with_namespaces(tmp_path: Path) -> None:
    process = load_process(
        tmp_path,
        """
        name: t
        namespaces: {po: 'urn:po'}
        trigger: {http: {auth: none, path: /t, input: xml}}
        steps:
          - template:
              text: "{% for l in xpath_nodes('//po:line') %}{{ xpath('po:sku', l) }};{% endfor %}"
        """,
    )
    xml = b'<order xmlns="urn:po"><line><sku>A</sku></line><line><sku>B</sku></line></order>'
    result = await process.execute([Document.xml(parse_xml(xml))])
    assert result.documents[0].body == "A;B;"


async def test_undefined_value_fails_the_step(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, "- template: {text: '{{ doc.nope }}'}", Document.json({}))
    assert result.execution.status is ExecutionStatus.FAILED
    assert result.execution.error is not None
    assert result.execution.error.detail == (
        "steps[0].template: template: 'dict object' has no attribute 'nope'"
    )


def test_configuration_mistakes(tmp_path: Path) -> None:
    header = "trigger: {http: {auth: none, path: /%s}}\nsteps:\n"
    _, problems = validate_files(
        tmp_path,
        {
            "both.yaml": "name: both\n" + header % "both" + "  - template: {text: x, file: y}\n",
            "none.yaml": "name: none\n" + header % "none" + "  - template: {}\n",
            "missing.yaml": "name: missing\n"
            + header % "missing"
            + "  - template: {file: nope.j2}\n",
            "names.yaml": "name: names\n" + header % "names" + "  - template: {text: '{{ x }}'}\n",
        },
    )
    assert problems[0] == "both.yaml:4 steps[0].template: give exactly one of `text` or `file`"
    assert problems[1] == (
        "missing.yaml:4 steps[0].template: cannot read template file 'nope.j2': "
        "No such file or directory"
    )
    assert problems[2].startswith("names.yaml:4 steps[0].template: unknown name(s) x in")
    assert problems[3] == "none.yaml:4 steps[0].template: give exactly one of `text` or `file`"
    assert len(problems) == 4
