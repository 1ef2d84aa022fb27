"""XSD and JSON Schema, loaded and compiled once per file at process load.

XSDs are read by xmlschema with `allow="local"` (imports and includes from local files
only, never the network) and `defuse="always"` (no entity expansion).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import xmlschema
from lxml import etree

from runtime.errors import DocumentError
from runtime.schema_errors import schema_problem

MAX_REPORTED = 10


class ValidationFailed(DocumentError):
    problem = "validation-failed"
    title = "Validation failed"

    def __init__(self, errors: list[str], status: int = 400):
        self.errors = errors[:MAX_REPORTED]
        more = len(errors) - len(self.errors)
        detail = "; ".join(self.errors) + (f"; and {more} more" if more > 0 else "")
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
        if self.fast is not None and self.fast.validate(element):
            return []
        return xsd_errors(self.schema, element)


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
    return [f"{error.path or '/'}: {_reason(error)}" for error in schema.iter_errors(element)]  # type: ignore[arg-type]


def _reason(error: xmlschema.XMLSchemaValidationError) -> str:
    return str(error.reason or error.message).splitlines()[0]


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
    return [f"{error.json_path}: {error.message}" for error in sorted(errors, key=lambda e: e.path)]
