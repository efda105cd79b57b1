"""Study files (YAML or JSON) for the CLI: reading them with line numbers for syntax errors,
mapping a 422 error's field back to its line, and validating them locally through the same
code the API runs (``app.schemas`` + ``app.services.studies.validate_definition``).

A study file's ``problem`` may name local ``model_file`` and ``data_file`` (relative to the
study file's folder; with optional ``model_format`` and ``architecture``): the CLI uploads
their content first (``POST /workloads``, as ``xbar workload upload``) under
``problem.workload`` (default ``file-<12 hex digits of the content's sha256>``), reusing an
upload of that name holding the same bytes, and then sends the study naming the upload; the
request never carries a path (:func:`upload_local_workload`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from app.cli.client import Client
    from app.problems.workloads import WorkloadFiles

LOCAL_KEYS = ("model_file", "data_file", "model_format", "architecture")
"""``problem`` keys of a study file that describe a local file workload (never sent)."""


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


@dataclass(frozen=True)
class LocalWorkload:
    """A study file's local model and data files, read."""

    name: str
    """The upload's name: ``problem.workload`` or ``file-<hash>``."""
    model_path: Path
    data_path: Path
    model: bytes
    data: bytes
    model_format: str | None
    architecture: str | None

    @property
    def model_sha256(self) -> str:
        return hashlib.sha256(self.model).hexdigest()

    @property
    def data_sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def local_workload(data: dict[str, Any], base: Path | None = None) -> LocalWorkload | None:
    """The local files ``data["problem"]`` names (paths relative to ``base``), or ``None``.

    Raises:
        StudyFileError: only one of ``model_file``/``data_file``, a value that is not a
            string, or a file that cannot be read.
    """
    problem = data.get("problem")
    if not isinstance(problem, dict) or not any(k in problem for k in LOCAL_KEYS):
        return None
    if "model_file" not in problem or "data_file" not in problem:
        raise StudyFileError("problem: model_file and data_file go together (a local model "
                             "and its data set, uploaded before the study is created)")
    values = {k: problem.get(k) for k in LOCAL_KEYS}
    if not all(v is None or isinstance(v, str) for v in values.values()):
        raise StudyFileError(f"problem: {', '.join(LOCAL_KEYS)} must be strings")
    content, paths = {}, {}
    for key in ("model_file", "data_file"):
        path = Path(values[key]).expanduser()
        paths[key] = path if path.is_absolute() or base is None else base / path
        try:
            content[key] = paths[key].read_bytes()
        except OSError as e:
            raise StudyFileError(f"problem.{key}: cannot read {paths[key]}: {e.strerror}"
                                 ) from None
    name = problem.get("workload")
    if not name:
        digest = hashlib.sha256(hashlib.sha256(content["model_file"]).digest()
                                + hashlib.sha256(content["data_file"]).digest())
        name = f"file-{digest.hexdigest()[:12]}"
    return LocalWorkload(str(name), paths["model_file"], paths["data_file"],
                         content["model_file"], content["data_file"], values["model_format"],
                         values["architecture"])


def naming_upload(data: dict[str, Any], name: str) -> dict[str, Any]:
    """``data`` with its ``problem`` naming workload ``name`` instead of local files."""
    problem = {k: v for k, v in data["problem"].items() if k not in LOCAL_KEYS}
    return {**data, "problem": {**problem, "workload": name}}


def upload_local_workload(client: Client, data: dict[str, Any],
                          base: Path | None = None) -> dict[str, Any]:
    """The study body to send: ``data`` itself, or, when its ``problem`` names local files,
    ``data`` naming their upload (uploaded now through ``POST /workloads``, or an upload of
    the same name that already holds the same bytes).

    Raises:
        StudyFileError: as :func:`local_workload`, or the caller already has an upload of that
            name holding other bytes.
        ApiError: the server refused the upload or could not be reached.
    """
    from app.cli.client import ApiError
    from app.cli.workload import upload_workload

    local = local_workload(data, base)
    if local is None:
        return data
    try:
        have = client.get(f"/workloads/{local.name}")
    except ApiError as e:
        if e.status != 404:
            raise
        upload_workload(client, local.name, local.model_path, local.data_path,
                        local.model_format, local.architecture)
    else:
        if (have["model_sha256"], have["data_sha256"]) != (local.model_sha256,
                                                           local.data_sha256):
            raise StudyFileError(
                f"you already have an uploaded workload {local.name!r} with other content; "
                f"delete it (xbar workload delete {local.name}) or set problem.workload to "
                "another name")
    return naming_upload(data, local.name)


def _local_files(local: LocalWorkload) -> tuple[dict[str, WorkloadFiles], list[dict[str, Any]]]:
    """The local files as the file workload a study may name, checked by building it as the
    server would; or the 422-style errors at ``problem.model_file``/``data_file``."""
    from app.core.errors import ValidationFailed
    from app.problems.workloads import WorkloadFiles
    from app.services.workloads import validate_upload

    try:
        check = validate_upload(local.model, local.data, local.model_format,
                                local.architecture)
    except ValidationFailed as e:
        field = "model_file" if e.errors and e.errors[0]["loc"][-1] == "model" else "data_file"
        return {}, [{"loc": ["body", "problem", field], "msg": e.detail,
                     "type": "workload"}]
    return {local.name: WorkloadFiles("uploaded", local.model_sha256, local.data_sha256,
                                      check.model_format, check.data_format,
                                      local.architecture,
                                      analytic_tier=check.analytic_tier)}, []


def validate_locally(data: dict[str, Any],
                     base: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate ``data`` as ``POST /studies`` would under this machine's settings (``XBAR_*``).
    Local ``model_file``/``data_file`` (relative to ``base``) are built here as the server
    would build their upload; a workload uploaded earlier is known to the server only
    (``xbar study validate --server``).

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
        local = local_workload(data, base)
    except StudyFileError as e:
        return [{"loc": ["body", "problem"], "msg": str(e), "type": "value_error"}], []
    files: dict[str, WorkloadFiles] = {}
    if local is not None:
        files, errors = _local_files(local)
        if errors:
            return errors, []
        data = naming_upload(data, local.name)
    try:
        resolved = validate_definition(StudyCreate.model_validate(data), files=files)
    except ValidationError as e:
        return [{"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in e.errors()], []
    except ValidationFailed as e:
        return e.errors or [{"loc": ["body"], "msg": e.detail, "type": "value_error"}], []
    return [], [o.name for o in resolved.objectives]
