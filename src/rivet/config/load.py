"""Read rivet.yaml: parse, substitute ${VAR} / --param, validate, and report every problem at once.

Substitution happens on parsed string values, not on the raw text, so a secret never reaches a
YAML parser message and a value can never inject YAML structure.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from rivet.config import models, rules
from rivet.config.models import RivetConfig
from rivet.core.errors import ConfigError
from rivet.core.redact import redact

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_MISPLACED_TUNING = (
    "batch_size",
    "batch_size_memory_mb",
    "throttle_ms",
    "statement_timeout_s",
    "max_retries",
    "retry_backoff_ms",
    "lock_timeout_s",
    "memory_threshold_mb",
    "profile",
)
_MODEL_BY_PARENT: dict[str, list[type[BaseModel]]] = {
    "": [models.RivetConfig],
    "source": [models.SourceConfig],
    "tuning": [models.TuningConfig],
    "tls": [models.TlsConfig],
    "exports": [models.ExportConfig],
    "parquet": [models.ParquetConfig],
    "meta_columns": [models.MetaColumns],
    "quality": [models.QualityConfig],
    "notifications": [models.NotificationsConfig],
    "slack": [models.SlackConfig],
    "local": [models.LocalDestination],
    "s3": [models.S3Destination],
    "gcs": [models.GcsDestination],
    "azure": [models.AzureDestination],
    "stdout": [models.StdoutDestination],
}
_DESTINATION_TAGS = {"local", "s3", "gcs", "azure", "stdout"}
Lines = dict[tuple[int | str, ...], int]  # YAML path (keys and indexes) -> line (1-based)


class _Constructor(RoundTripConstructor):
    """YAML 1.2 core schema, as the reference reads rivet.yaml: `on`, `off`, `yes`, `no` are
    strings, `0755` is decimal, `1:30` is text; and a date stays the text it was written as
    (the core schema has no timestamp type)."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


def load_config(path: str | Path, params: Mapping[str, str] | None = None) -> RivetConfig:
    """Load and validate a config file; raise ConfigError listing every problem found."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            ["file not found. Hint: check the path, or run `rivet init` to generate one."],
            path=str(path),
        )
    raw, lines = _parse_yaml(path)
    params = dict(params or {})
    used: set[str] = set()
    missing: list[str] = []
    resolved = _substitute(raw, params, used, missing, "")
    for key in sorted(set(params) - used):
        log.warning(
            "--param '%s' was not referenced by any ${%s} placeholder in the config — check the "
            "parameter name (case-sensitive) or remove the unused --param",
            key,
            key,
        )
    problems = missing + _take_misplaced_tuning(resolved)
    try:
        config = RivetConfig.model_validate(resolved)
    except ValidationError as exc:
        problems += _describe(exc, resolved, lines)
    if problems:
        raise ConfigError(problems, path=str(path))
    problems = rules.check(config, path.resolve().parent)
    if problems:
        raise ConfigError(problems, path=str(path))
    return config


def check_model(config: RivetConfig, config_dir: Path) -> RivetConfig:
    """The cross-field rules for a config built in Python rather than loaded from YAML."""
    problems = rules.check(config, config_dir)
    if problems:
        raise ConfigError(problems)
    return config


def substitute_text(text: str, params: Mapping[str, str], where: str) -> str:
    """Expand ${VAR} in one string (query files use this); unset variables are an error."""
    missing: list[str] = []
    result = _expand(text, params, set(), missing, where)
    if missing:
        raise ConfigError(missing)
    return result


def _parse_yaml(path: Path) -> tuple[Any, Lines]:
    """The document as plain Python values, and the line of every key and list item."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read file: {exc}"], path=str(path)) from None
    reader = YAML(typ="rt")
    reader.Constructor = _Constructor
    try:
        document = reader.load(text)
    except MarkedYAMLError as exc:
        # The problem and its position only: the snippet the parser would print may hold a
        # literal secret.
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = f"invalid YAML at {where}: {exc.problem}"
        if "but got '{'" in str(exc.problem):
            problem += (
                ". A placeholder such as {export} or {date} inside a `{ ... }` mapping must be "
                'quoted: path: "./out/{export}"'
            )
        raise ConfigError([problem], path=str(path)) from None
    except YAMLError as exc:
        raise ConfigError([f"invalid YAML: {redact(str(exc))}"], path=str(path)) from None
    if not isinstance(document, dict):
        raise ConfigError(["expected a mapping with 'source' and 'exports'"], path=str(path))
    lines: Lines = {}
    return _plain(document, (), lines), lines


def _plain(node: Any, where: tuple[int | str, ...], lines: Lines) -> Any:
    """Round-trip nodes as dict, list, str, int, float, bool, None; their lines into `lines`."""
    if isinstance(node, CommentedMap):
        plain = {}
        for key, value in node.items():
            name = _plain(key, where, {})
            if isinstance(name, str | int):
                lines[(*where, name)] = node.lc.key(key)[0] + 1
            plain[name] = _plain(value, (*where, name), lines)
        return plain
    if isinstance(node, CommentedSeq):
        for index in range(len(node)):
            lines[(*where, index)] = node.lc.item(index)[0] + 1
        return [_plain(value, (*where, i), lines) for i, value in enumerate(node)]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (str, int, float):  # ruamel's scalar subclasses (ScalarInt, ScalarFloat...)
        if isinstance(node, kind):
            return kind(node)
    return node


def _substitute(
    node: Any, params: Mapping[str, str], used: set[str], missing: list[str], where: str
) -> Any:
    if isinstance(node, dict):
        return {
            k: _substitute(v, params, used, missing, _join(where, str(k))) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_substitute(v, params, used, missing, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        return _expand(node, params, used, missing, where)
    return node


def _expand(
    text: str, params: Mapping[str, str], used: set[str], missing: list[str], where: str
) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name:
            return ""
        if name in params:
            used.add(name)
            return params[name]
        value = os.environ.get(name)
        if value is None:
            missing.append(
                f"{where}: environment variable '{name}' referenced in config is not set "
                "(a missing secret would silently become an empty string — refusing). "
                f"Set it, or pass --param {name}=VALUE"
            )
            return match.group(0)
        return value

    return _PLACEHOLDER.sub(replace, text)


def _take_misplaced_tuning(raw: dict[str, Any]) -> list[str]:
    """Report tuning keys written directly under `source:` or an export (the reference's message),
    and drop them, so that validation does not report them again as unknown keys."""
    exports = raw.get("exports")
    places = [("source", raw.get("source"), "source.tuning:", "inside source")]
    for index, export in enumerate(exports if isinstance(exports, list) else []):
        name = export.get("name", "?") if isinstance(export, dict) else "?"
        places.append((f"export '{name}' (index {index})", export, "exports[].tuning:",
                       "inside the export"))  # fmt: skip
    problems = []
    for where, node, target, inside in places:
        keys = [k for k in _MISPLACED_TUNING if isinstance(node, dict) and k in node]
        if keys:
            assert isinstance(node, dict)
            for key in keys:
                del node[key]
            problems.append(
                f"{where}: field(s) {', '.join(keys)} belong under '{target}' "
                f"(write `tuning: {{{keys[0]}: ...}}` {inside})"
            )
    return problems


def _describe(exc: ValidationError, raw: dict[str, Any], lines: Lines) -> list[str]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [
            part
            for i, part in enumerate(error["loc"])
            if not (part in _DESTINATION_TAGS and i > 0 and error["loc"][i - 1] == "destination")
        ]
        path = _yaml_path(loc, raw)
        line = _line(tuple(loc), lines)
        if error["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown key{_did_you_mean(error['loc'])}{line}")
        elif error["type"] == "missing":
            problems.append(f"{path}: required key is missing{line}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {message}{line}")
    return problems


def _line(loc: tuple[int | str, ...], lines: Lines) -> str:
    """' (line N)' of the key, or of the nearest enclosing one that the file has."""
    while loc:
        if loc in lines:
            return f" (line {lines[loc]})"
        loc = loc[:-1]
    return ""


def _yaml_path(loc: list[int | str], raw: dict[str, Any]) -> str:
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
            if i > 0 and loc[i - 1] == "exports":
                name = _export_name(raw, part)
                if name:
                    text += f" ({name})"
        else:
            text = _join(text, part)
    return text or "(root)"


def _export_name(raw: dict[str, Any], index: int) -> str | None:
    exports = raw.get("exports")
    if isinstance(exports, list) and index < len(exports) and isinstance(exports[index], dict):
        name = exports[index].get("name")
        return str(name) if name is not None else None
    return None


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    key = str(loc[-1])
    parent = next((str(p) for p in reversed(loc[:-1]) if isinstance(p, str)), "")
    fields: set[str] = set()
    for model in _MODEL_BY_PARENT.get(parent, []):
        fields.update(model.model_fields)
    if parent == "destination":
        for tag in _DESTINATION_TAGS:
            fields.update(_MODEL_BY_PARENT[tag][0].model_fields)
    close = difflib.get_close_matches(key, sorted(fields), n=1, cutoff=0.6)
    if not close:
        close = [f for f in sorted(fields) if len(key) >= 3 and (key in f or f in key)][:1]
    return f". Did you mean '{close[0]}'?" if close else ""


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
