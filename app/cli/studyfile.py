"""Study files (YAML or JSON) for the CLI: reading them with line numbers for syntax errors,
mapping a 422 error's field back to its line, and validating them locally through the same
code the API runs (``app.schemas`` + ``app.services.studies.validate_definition``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class StudyFileError(ValueError):
    """An unreadable file, a YAML/JSON syntax error (with its line and column), or a file
    that does not hold a mapping."""


@dataclass(frozen=True)
class StudyFile:
    """A parsed study file: its data and, when the text is YAML-readable (JSON is), the node
    tree that locates each field."""

    path: Path
    data: dict[str, Any]
    root: yaml.Node | None

    @classmethod
    def read(cls, path: Path) -> StudyFile:
        """Raises:
            StudyFileError: unreadable, not valid YAML/JSON (``FILE:LINE:COL: ...``), or not a
                mapping.
        """
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise StudyFileError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}"
                                 ) from e
        if path.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise StudyFileError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}"
                                     ) from e
        else:
            try:
                data = yaml.safe_load(text)
            except yaml.MarkedYAMLError as e:
                mark = e.problem_mark or e.context_mark
                where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
                what = " ".join(x for x in (e.context, e.problem) if x)
                raise StudyFileError(f"{where}: not valid YAML: {what}") from e
            except yaml.YAMLError as e:
                raise StudyFileError(f"{path}: not valid YAML: {e}") from e
        if not isinstance(data, dict):
            raise StudyFileError(f"{path} must hold a mapping (name, problem, budget, ...)")
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            root = None
        return cls(path, data, root)

    def line_of(self, loc: list[Any]) -> int | None:
        """The 1-based line of the deepest node of ``loc`` (a 422 ``loc`` after ``body``)
        found in the file, or None."""
        node, line = self.root, None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == str(key)), None)
                if pair is None:
                    break
                line, node = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                    and 0 <= key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line if line is not None else (1 if self.root is not None else None)

    def describe(self, errors: list[dict[str, Any]]) -> str:
        """One ``FILE:LINE: field.path: message`` line per 422 error entry."""
        lines = []
        for e in errors:
            loc = list(e.get("loc", []))[1:]
            line = self.line_of(loc)
            where = f"{self.path}:{line}" if line else str(self.path)
            lines.append(f"{where}: {'.'.join(str(p) for p in loc) or 'body'}: {e.get('msg')}")
        return "\n".join(lines)


def load_study_file(path: Path) -> dict[str, Any]:
    """Read a study definition from YAML or JSON.

    Raises:
        StudyFileError: unreadable file, syntax error (with line and column), not a mapping.
    """
    return StudyFile.read(path).data


def validate_locally(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate ``data`` as ``POST /studies`` would under this machine's settings (``XBAR_*``).

    Returns:
        The 422 ``errors`` the API would answer, in its ``{loc, msg, type}`` shape (empty when
        valid), and the names of the objectives the definition resolves to (empty when
        invalid).
    """
    from pydantic import ValidationError

    from app.core.errors import ValidationFailed
    from app.schemas.study import StudyCreate
    from app.services.studies import validate_definition

    try:
        resolved = validate_definition(StudyCreate.model_validate(data))
    except ValidationError as e:
        return [{"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in e.errors()], []
    except ValidationFailed as e:
        return e.errors or [{"loc": ["body"], "msg": e.detail, "type": "value_error"}], []
    return [], [o.name for o in resolved.objectives]
