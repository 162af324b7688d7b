"""Read a YAML config file into plain dicts and lists that remember the line of every key and item."""

from __future__ import annotations

from pathlib import Path

import yaml

from paracluster.errors import ConfigFileError

# ParallelCluster reads configs with PyYAML's safe_load (YAML 1.1: `yes` is a boolean, `010` is octal), so we use
# the same library and its C parser when present, and only hook the constructor to keep line numbers.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A mapping from the file; `key_lines[key]` is the 1-based line of the key, `line` of the mapping."""

    __slots__ = ("key_lines", "line", "duplicates")


class LineList(list):
    """A sequence from the file; `item_lines[i]` is the 1-based line of item i, `line` of the sequence."""

    __slots__ = ("item_lines", "line")


class _Loader(_BaseLoader):
    """Safe loader whose mappings and sequences carry their line numbers."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.key_lines = {}
    mapping.line = node.start_mark.line + 1
    mapping.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in mapping:
            mapping.duplicates.append((key, key_node.start_mark.line + 1))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    items.line = node.start_mark.line + 1
    return items


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def parse_yaml(text: str, source: str) -> object:
    """Parse YAML text; raise ConfigFileError naming the source, line and problem on a syntax error."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from the safe loader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = err.problem or err.context or "invalid YAML"
        raise ConfigFileError(f"{source}{where}: {problem}; fix the YAML syntax.") from None
    except yaml.YAMLError as err:
        raise ConfigFileError(f"{source}: {err}; fix the YAML syntax.") from None
    except RecursionError:
        raise ConfigFileError(f"{source}: the YAML is nested too deeply to read; fix the YAML syntax.") from None


def read_yaml_file(path: str | Path) -> object:
    """Read and parse a YAML file; raise ConfigFileError with a clear sentence on any failure."""
    return parse_yaml(read_config_text(path), str(path))


def read_config_text(path: str | Path) -> str:
    """Read a configuration file's text; raise ConfigFileError with a clear sentence on any failure."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: file not found; pass the path of an existing configuration file.") from None
    except IsADirectoryError:
        raise ConfigFileError(f"{path}: is a directory; pass the path of a configuration file.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"failed to read {path}: {err}") from None
