"""XSD and JSON Schema, loaded and compiled once per file at process load.

XSDs are read by xmlschema with `allow="local"` (imports and includes from local files
only, never the network) and `defuse="always"` (no entity expansion).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import xmlschema
from lxml import etree

from runtime.core.errors import DocumentError
from runtime.core.offload import Overrun, deadline_hook, time_limit
from runtime.formats.schema_errors import schema_problem

MAX_REPORTED = 10
MAX_REASON = 200  # characters of one error's reason: it may quote a huge value
# xmlschema explains libxml2's verdict on documents up to this many elements (it first
# walks the whole tree), with at most MAX_REPORTED errors (it renders the element for each,
# so many errors on one element cost quadratic time), and within this time; otherwise
# libxml2's own words are used.
EXPLAIN_ELEMENTS = 2_000
EXPLAIN_SECONDS = 0.05


class ValidationFailed(DocumentError):
    problem = "validation-failed"
    title = "Validation failed"

    def __init__(self, errors: list[str], status: int = 400):
        self.errors = errors[:MAX_REPORTED]
        more = len(errors) - len(self.errors)
        # Validators stop after MAX_REPORTED + 1 errors: counting them all costs time.
        detail = "; ".join(self.errors) + ("; and more" if more > 0 else "")
        super().__init__(detail, status=status)


def resolve(base_dir: Path | None, name: str) -> Path:
    return ((base_dir or Path(".")) / name).resolve()


@lru_cache(maxsize=128)
def load_xsd(path: Path) -> xmlschema.XMLSchema:
    """A compiled XSD (cached: a schema shared by several steps loads once)."""
    try:
        return xmlschema.XMLSchema(str(path), allow="local", defuse="always")
    except (xmlschema.XMLSchemaException, OSError, etree.ParseError) as exc:
        raise ValueError(f"cannot load XSD {schema_problem(exc, path)}") from None


XSD_NS = "http://www.w3.org/2001/XMLSchema"


class _InlineSchemas(etree.Resolver):
    """Serves in-memory schema documents to libxml2 by made-up URL."""

    def __init__(self, sources: dict[str, bytes]):
        super().__init__()
        self.sources = sources

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        source = self.sources.get(system_url or "")
        return None if source is None else self.resolve_string(source, context)


def fast_schema(schema_elements: list[etree._Element]) -> etree.XMLSchema | None:
    """libxml2's validator for a set of schema documents (e.g. a WSDL's inline schemas).

    It checks a message in microseconds where xmlschema takes a millisecond, so valid
    messages (the usual case) are checked here and xmlschema only explains failures.
    Imports between the documents are wired by namespace. None if libxml2 cannot compile
    them; callers then use xmlschema alone."""
    urls: dict[str, str] = {}
    documents: dict[str, etree._Element] = {}
    for index, element in enumerate(schema_elements):
        # A fresh root keeps the namespace declarations in scope where the schema sat (a
        # WSDL's prefixes are used inside attribute values, which copies would lose).
        copy_ = etree.Element(element.tag, attrib=dict(element.attrib), nsmap=element.nsmap)
        copy_.extend(copy.deepcopy(child) for child in element)
        url = f"wharf-schema:{index}"
        urls.setdefault(element.get("targetNamespace") or "", url)
        documents[url] = copy_
    for document in documents.values():
        for node in document.iter(f"{{{XSD_NS}}}import"):
            target = urls.get(node.get("namespace") or "")
            if target and not node.get("schemaLocation"):
                node.set("schemaLocation", target)
    wrapper = etree.Element(f"{{{XSD_NS}}}schema", nsmap={"xs": XSD_NS})
    for namespace, url in urls.items():
        etree.SubElement(wrapper, f"{{{XSD_NS}}}import", namespace=namespace, schemaLocation=url)
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_InlineSchemas({url: etree.tostring(d) for url, d in documents.items()}))
    try:
        return etree.XMLSchema(etree.fromstring(etree.tostring(wrapper), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError):
        return None


class XsdValidator:
    """Checks with libxml2 when it can, explains failures with xmlschema's paths."""

    def __init__(self, schema: xmlschema.XMLSchemaBase, fast: etree.XMLSchema | None):
        self.schema = schema
        self.fast = fast

    def errors(self, element: etree._Element) -> list[str]:
        """The first errors (none: valid). libxml2 judges in linear C time; xmlschema,
        pure Python and slower, explains with its paths unless that takes too long."""
        if self.fast is None:
            return xsd_errors(self.schema, element)
        if self.fast.validate(element):
            return []
        log = self.fast.error_log
        native = [
            f"line {entry.line}: {_truncate(entry.message)}"
            for entry in itertools.islice(log, MAX_REPORTED + 1)
        ]
        if len(log) > MAX_REPORTED or _more_than(element, EXPLAIN_ELEMENTS):
            return native or ["the document is not valid"]
        try:
            with time_limit(EXPLAIN_SECONDS):
                return xsd_errors(self.schema, element) or native
        except Overrun:
            return native or ["the document is not valid"]


def _more_than(element: etree._Element, count: int) -> bool:
    return next(itertools.islice(element.iter(), count, None), None) is not None


@lru_cache(maxsize=128)
def load_xsd_validator(path: Path) -> XsdValidator:
    """An XSD file as a validator: xmlschema for messages, libxml2 for speed."""
    schema = load_xsd(path)
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        fast: etree.XMLSchema | None = etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError):
        fast = None
    return XsdValidator(schema, fast)


def xsd_errors(schema: xmlschema.XMLSchemaBase, element: etree._Element) -> list[str]:
    """The first errors only (more are never reported, and each costs time); within an
    offloaded task's budget (`deadline_hook`)."""
    errors = schema.iter_errors(element, validation_hook=deadline_hook)  # type: ignore[arg-type]
    return [
        f"{error.path or '/'}: {_reason(error)}"
        for error in itertools.islice(errors, MAX_REPORTED + 1)
    ]


def _reason(error: xmlschema.XMLSchemaValidationError) -> str:
    return _truncate(str(error.reason or error.message).splitlines()[0])


def load_json_schema(source: Path | dict[str, Any]) -> jsonschema.protocols.Validator:
    if isinstance(source, Path):
        try:
            schema = orjson.loads(source.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"cannot load JSON Schema {source.name}: {exc}") from None
    else:
        schema = source
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def json_errors(validator: jsonschema.protocols.Validator, value: Any) -> list[str]:
    errors: Iterable[jsonschema.ValidationError] = validator.iter_errors(value)
    first = itertools.islice(errors, MAX_REPORTED + 1)
    return [
        f"{error.json_path}: {_truncate(error.message)}"
        for error in sorted(first, key=lambda e: e.path)
    ]


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."
