"""Providers: where clusters run. `local` (Linux namespaces on this machine) and, later, `aws`."""

from __future__ import annotations

from paracluster.errors import BadRequestError, NotAvailableError

PROVIDERS = ("local", "aws")


def get_provider(name: str, settings):
    """The provider named `name`; imported lazily so one provider never loads the other's libraries."""
    if name == "local":
        from paracluster.providers.local import LocalProvider

        return LocalProvider(settings)
    if name == "aws":
        try:
            from paracluster.providers.aws import AwsProvider
        except ImportError as err:  # boto3 and troposphere come with the `aws` extra
            raise NotAvailableError(f"the aws provider needs {err.name}; install ParaCluster with its aws extra "
                                    "(pip install 'paracluster[aws]')") from None
        return AwsProvider(settings)
    raise BadRequestError(f"--provider '{name}' is unknown; use one of: {', '.join(PROVIDERS)}")
