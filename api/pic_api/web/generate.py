"""The web UI's view of the API, generated: ``python -m pic_api.web.generate --write webui/src/generated``.

Writes ``openapi.json`` (the document GET /api/openapi.json serves) and ``api.ts``: a TypeScript type
per component schema, and ``limits``, the rules of each field type (pattern, lengths, list sizes,
choices, the rule in words) the UI's forms check before a request. The UI is built on hosts that
have only Debian's Node.js 18, so no npm generator is involved: the files are committed, and
tests/unit/test_openapi.py fails when they differ from what this module writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from flask import Flask

from ..core import roles
from . import BLUEPRINTS
from .openapi import build, openapi_bp

HEADER = "// Generated from the API's OpenAPI document by `make openapi`; do not edit.\n"
LIMIT_KEYS = ("pattern", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum", "enum", "description")


def document(project_dir: Path) -> dict[str, Any]:
    """The document of the app with every blueprint, without a cell."""
    app = Flask("pic_api_openapi")
    for bp in [*BLUEPRINTS, openapi_bp]:
        app.register_blueprint(bp)
    return build(app, roles.load(project_dir).order)


def _ts(node: Any, indent: str = "") -> str:
    """The TypeScript type of a JSON Schema node (the subset the document uses)."""
    if node is True or node == {}:
        return "unknown"
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[1]
    if "enum" in node:
        return " | ".join(json.dumps(v) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    if "anyOf" in node:
        return " | ".join(_ts(n, indent) for n in node["anyOf"])
    kinds = node.get("type")
    if isinstance(kinds, list):
        return " | ".join(_ts({**node, "type": k}, indent) for k in kinds)
    if kinds in ("string", "boolean", "null"):
        return kinds
    if kinds in ("integer", "number"):
        return "number"
    if kinds == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(_ts(n, indent) for n in node["prefixItems"]) + "]"
        item = _ts(node.get("items", {}), indent)
        return f"({item})[]" if "|" in item else f"{item}[]"
    if kinds == "object" or "properties" in node:
        props = node.get("properties", {})
        if not props:
            extra = node.get("additionalProperties")
            return f"Record<string, {_ts(extra, indent)}>" if isinstance(extra, dict) else "Record<string, unknown>"
        required = set(node.get("required", ()))
        inner = indent + "  "
        lines = []
        for key, sub in props.items():
            if sub.get("description"):
                lines.append(f"{inner}/** {sub['description']} */")
            lines.append(f"{inner}{key}{'' if key in required else '?'}: {_ts(sub, inner)}")
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    return "unknown"


def typescript(doc: dict[str, Any]) -> str:
    schemas = doc["components"]["schemas"]
    out = [HEADER]
    for name, node in schemas.items():
        if node.get("description"):
            out.append(f"/** {node['description']} */")
        out.append(f"export type {name} = {_ts(node)}\n")
    limits = {
        name: {k: node[k] for k in LIMIT_KEYS if k in node}
        for name, node in schemas.items()
        if any(k in node for k in LIMIT_KEYS[:-1])
    }
    out.append("/** The rules of each field type, as the API checks them (patterns are ECMAScript). */")
    out.append(f"export const limits = {json.dumps(limits, indent=2)} as const\n")
    return "\n".join(out)


def generated_files(project_dir: Path) -> dict[str, str]:
    doc = document(project_dir)
    return {"openapi.json": json.dumps(doc, indent=1) + "\n", "api.ts": typescript(doc)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="DIR", required=True, help="where to write, e.g. webui/src/generated")
    parser.add_argument("--project-dir", default=str(Path(__file__).resolve().parents[3]), help="the repository")
    args = parser.parse_args(argv)
    out = Path(args.write)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in generated_files(Path(args.project_dir)).items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
