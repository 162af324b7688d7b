"""The exception hierarchy of ParaCluster; every error a user can see derives from ClusterError."""

from __future__ import annotations


class ClusterError(Exception):
    """Base of every ParaCluster error; its message is one sentence meant for the user."""


class ConfigError(ClusterError):
    """A configuration problem."""


class ConfigFileError(ConfigError):
    """The configuration file cannot be read or parsed."""


class BadRequestError(ClusterError, ValueError):
    """A command-line argument or request parameter is invalid."""


class NotFoundError(ClusterError, LookupError):
    """A named cluster, image or resource does not exist."""


class ConflictError(ClusterError):
    """The request conflicts with existing state (name in use, operation in progress)."""
