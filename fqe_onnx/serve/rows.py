"""Response rows and the OpenAPI document, both derived from ``Record`` so that a row has exactly
the CSV's fields (``path`` is called ``name`` over HTTP): a field added to ``Record`` flows through."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Optional

import numpy as np

from .. import __version__
from ..errors import ERROR_KINDS
from ..measure_catalog import BELOW_FLOOR_COLUMN, MEASURES, raw_column
from ..records import Record


def row(
    record: Record, embedding: Optional[np.ndarray] = None, with_embedding: bool = False, with_measures: bool = False
) -> dict[str, Any]:
    """One response row: the record's fields in CSV order, ``path`` as ``name``; with
    ``with_measures`` the measure columns (null where the row has none); with ``with_embedding``
    also the model's output row (null for an image that failed)."""
    fields = record.as_dict(with_measures)
    result = {"name": fields.pop("path"), **fields}
    if with_embedding:
        result["embedding"] = None if embedding is None else np.asarray(embedding, dtype=float).ravel().tolist()
    return result


def _schema_of(hint: Any) -> dict[str, Any]:
    """An OpenAPI 3.0 schema for a field's type hint (str, int, float, bool, Optional, tuple, list)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union:
        inner = _schema_of(args[0]) if len(args) == 1 else {}
        return {**inner, "nullable": True}
    if typing.get_origin(hint) in (tuple, list):
        return {"type": "array", "items": _schema_of(args[0]) if args else {}}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return {"type": simple[hint]} if hint in simple else {}


def row_schema() -> dict[str, Any]:
    hints = typing.get_type_hints(Record)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(Record):
        if f.name != "measures":  # flattened into the measure columns below
            properties["name" if f.name == "path" else f.name] = _schema_of(hints[f.name])
    properties["error_kind"]["description"] = "empty when scored, else one of: " + ", ".join(ERROR_KINDS)
    optional = ["embedding"]
    for name in MEASURES:
        properties[name] = {
            "type": "integer",
            "nullable": True,
            "description": f"only with ?measures=1: {name}, 0-100 (null when not assessed)",
        }
        properties[raw_column(name)] = {
            "type": "number",
            "nullable": True,
            "description": f"only with ?measures=1: {name}'s native value",
        }
        optional += [name, raw_column(name)]
    properties[BELOW_FLOOR_COLUMN] = {
        "type": "string",
        "nullable": True,
        "description": "only with ?measures=1: the measures below their floors, worst first, separated by ';'",
    }
    optional.append(BELOW_FLOOR_COLUMN)
    properties["embedding"] = {
        "type": "array",
        "items": {"type": "number"},
        "nullable": True,
        "description": "only with ?embedding=1: the model's output row",
    }
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def _error_response(description: str, headers: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def openapi_document() -> dict[str, Any]:
    """The API as OpenAPI 3.0 (served at /openapi.json; committed as fqe_onnx/serve/openapi.json)."""
    image = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "name": {"type": "string"},
            "identity": {"type": "string"},
            "data": {"type": "string", "format": "byte", "description": "the image file's bytes, base64"},
        },
    }
    retry = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    security: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}]
    json_body = {"application/json": {"schema": {"type": "object"}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "fqe-onnx serve",
            "version": __version__,
            "description": "Face image quality over HTTP: one row per image, as fqe-onnx score writes it.",
        },
        "paths": {
            "/v1/score": {
                "post": {
                    "summary": "Score one or more images",
                    "security": security,
                    "parameters": [
                        {
                            "name": "embedding",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "enum": [0, 1]},
                            "description": "1: each row also carries the embedding",
                        },
                        {
                            "name": "measures",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "enum": [0, 1]},
                            "description": "1: each row also carries the ISO/IEC 29794-5 component measures",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "images": {"type": "array", "items": {"type": "string", "format": "binary"}}
                                    },
                                }
                            },
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["images"],
                                    "properties": {"images": {"type": "array", "minItems": 1, "items": image}},
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "one row per image, in order; a bad image is a row with its error kind",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["rows"],
                                        "properties": {
                                            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}}
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error_response("malformed JSON or multipart, bad base64, no images"),
                        "401": _error_response("API key missing or wrong"),
                        "408": _error_response("the body did not arrive within --body-timeout"),
                        "413": _error_response("body over --max-body, or more images than --max-images"),
                        "415": _error_response("neither application/json nor multipart/form-data"),
                        "503": _error_response(
                            "queue full, too many requests in flight, not ready or shutting down", retry
                        ),
                    },
                }
            },
            "/v1/model": {
                "get": {
                    "summary": "The model: contract, sha256, provider, template, limits",
                    "security": security,
                    "responses": {
                        "200": {"description": "the model", "content": json_body},
                        "401": _error_response("API key missing or wrong"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Live: the process answers",
                    "responses": {"200": {"description": "live", "content": json_body}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Ready: model loaded, one warm-up batch done, not shutting down",
                    "responses": {
                        "200": {"description": "ready", "content": json_body},
                        "503": _error_response("not ready"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "responses": {
                        "200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Row": row_schema(),
                "Error": {
                    "type": "object",
                    "required": ["error", "status", "detail"],
                    "properties": {
                        "error": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
            },
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
