"""The exception hierarchy of ParaCluster; every error a user can see derives from ClusterError."""

from __future__ import annotations


class ClusterError(Exception):
    """Base of every ParaCluster error; its message is one sentence meant for the user."""

    def body(self) -> dict:
        """The JSON answer the CLI prints (and the REST API returns) for this error."""
        return {"message": str(self)}


class ConfigError(ClusterError):
    """A configuration problem."""


class ConfigFileError(ConfigError):
    """The configuration file cannot be read or parsed."""


class ConfigValidationError(ConfigError):
    """Validation found problems at or above the failure level; carries every message, as ParallelCluster does."""

    def __init__(self, message: str, validation_messages: list[dict]):
        super().__init__(message)
        self.validation_messages = validation_messages

    def body(self) -> dict:
        body = {"message": str(self)}
        if self.validation_messages:
            body = {"configurationValidationErrors": self.validation_messages, **body}
        return body


class DryRunSucceeded(ClusterError):
    """A request with --dryrun true passed validation; ParallelCluster reports this as an error (exit code 1)."""

    def __init__(self, validation_messages: list[dict], change_set: list[dict] | None = None):
        super().__init__("Request would have succeeded, but DryRun flag is set.")
        self.validation_messages = validation_messages
        self.change_set = change_set  # update-cluster's

    def body(self) -> dict:
        # ParallelCluster leaves validationMessages out when there is nothing to report.
        body = {"message": str(self)}
        if self.change_set is not None:
            body["changeSet"] = self.change_set
        if self.validation_messages:
            body["validationMessages"] = self.validation_messages
        return body


class UpdateRefused(ClusterError):
    """update-cluster found changes that are not allowed now; the body lists them as ParallelCluster does."""

    def __init__(self, change_set: list[dict], errors: list[dict]):
        super().__init__("Update failure")
        self.change_set = change_set
        self.errors = errors

    def body(self) -> dict:
        return {"message": str(self), "changeSet": self.change_set, "updateValidationErrors": self.errors}


class BadRequestError(ClusterError, ValueError):
    """A command-line argument or request parameter is invalid."""


class NotFoundError(ClusterError, LookupError):
    """A named cluster, image or resource does not exist."""


class ConflictError(ClusterError):
    """The request conflicts with existing state (name in use, operation in progress)."""


class NotAvailableError(ClusterError):
    """The operation exists in ParallelCluster but this build of ParaCluster cannot perform it yet."""


class ClusterOperationFailed(ClusterError):
    """A waited-for operation ended in a *_FAILED status; the body is the cluster's description plus the message."""

    def __init__(self, message: str, cluster: dict):
        super().__init__(message)
        self.cluster = cluster

    def body(self) -> dict:
        return {"message": str(self), **self.cluster}


def rebuild(type_name: str, message: str) -> ClusterError:
    """The error another process reported by class name: that class when it takes just a message, else ClusterError.

    Classes that carry more than a message (validation messages, a cluster's description) cannot be rebuilt from
    the name and the message alone, so they come back as their plain sentence.
    """
    cls = globals().get(type_name)
    if isinstance(cls, type) and issubclass(cls, ClusterError):
        if not any("__init__" in vars(base) for base in cls.__mro__ if issubclass(base, ClusterError)):
            return cls(message)
    return ClusterError(message)
