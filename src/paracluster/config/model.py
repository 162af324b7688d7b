"""A read-only view of a checked config: snake_case attributes, ParallelCluster's defaults, and where each key is.

The file format is the key tree (PascalCase, in `config.schema`); code reads configs only through this view, so key
case and defaults are applied in one place. A section that the file leaves out reads as an empty section whose keys
all have their defaults, as in ParallelCluster's model; `present` tells whether the file had it.
"""

from __future__ import annotations


from paracluster.config.schema.types import ListOf, Scalar, Section
from paracluster.config.schema.walk import join_path, key_line

_EMPTY: dict = {}


class ConfigNode:
    """One section of a config; attribute access follows the section's key tree and fills in defaults."""

    __slots__ = ("_spec", "_data", "path", "line", "parent")

    def __init__(self, spec: Section, data: dict | None, path: str, line: int | None, parent: ConfigNode | None):
        self._spec = spec
        self._data = data if data is not None else _EMPTY
        self.path = path
        self.line = line if line is not None else getattr(data, "line", None)
        self.parent = parent

    @property
    def present(self) -> bool:
        """Whether the file had this section (as opposed to an implied empty one)."""
        return self._data is not _EMPTY

    @property
    def raw(self) -> dict:
        """The section's data as written in the file (after type coercion), without defaults."""
        return self._data

    def is_set(self, key: str) -> bool:
        """Whether the file sets `key` (PascalCase) in this section."""
        return key in self._data

    def where(self, key: str | None = None) -> str:
        """The YAML path and line of this section or of one of its keys, for messages: `A/B[0]/Key (line 12)`."""
        if key is None:
            path, line = self.path, self.line
        else:
            path, line = join_path(self.path, key), key_line(self._data, key, self.line)
        path = path or "configuration"
        return f"{path} (line {line})" if line else path

    def __getattr__(self, name: str) -> object:
        spec = object.__getattribute__(self, "_spec")
        try:
            key = spec.attrs[name]
        except KeyError:
            raise AttributeError(f"the {spec.title} section has no key for attribute '{name}'") from None
        return self.get(key)

    def get(self, key: str) -> object:
        """The value of `key` (PascalCase), its default, or a view of the sub-section or list."""
        field = self._spec.fields[key]
        value = self._data.get(key)
        child_path = join_path(self.path, key)
        if isinstance(field, Section):
            return ConfigNode(field, value, child_path, key_line(self._data, key, self.line), self)
        if isinstance(field, ListOf):
            if value is None:
                return []
            if isinstance(field.item, Section):
                return [
                    ConfigNode(field.item, item, f"{child_path}[{index}]", key_line(value, index, None), self)
                    for index, item in enumerate(value)
                ]
            return list(value)
        assert isinstance(field, Scalar)
        if value is not None:
            return value
        default = field.default
        if callable(default):
            return default() if default in (dict, list) else default(self)
        return default

    def __repr__(self) -> str:
        return f"<{self._spec.title} at {self.path or '/'}>"


def view(spec: Section, data: dict) -> ConfigNode:
    """Return the view of a whole checked config."""
    return ConfigNode(spec, data, "", getattr(data, "line", None), None)
