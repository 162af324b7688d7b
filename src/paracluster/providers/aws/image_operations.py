"""The aws provider's image operations: not there yet (build-image on AWS is a later issue); each says so in one
sentence, and list-official-images too, since it would ask EC2 for ParallelCluster's AMIs."""

from __future__ import annotations

from paracluster.errors import NotAvailableError

_LATER = "the aws provider cannot {what} yet (image builds on AWS come in a later version); use --provider local"


def _not_yet(what: str):
    def operation(self, *args, **kwargs):
        raise NotAvailableError(_LATER.format(what=what))

    operation.__doc__ = f"Refused: {what} is not on the aws provider yet."
    return operation


class AwsImageOperations:
    """Mixed into AwsProvider: ImageOperations of the provider contract, each refused with one sentence."""

    def validate_image(self, image_id: str, config, region: str | None, suppress=()) -> list:
        """No AWS checks of image configs yet: a dry run validates as the pure validators do."""
        return []

    build_image = _not_yet("build images")
    describe_image = _not_yet("describe images")
    list_images = _not_yet("list images")
    delete_image = _not_yet("delete images")
    official_images = _not_yet("list official images")
    image_log_streams = _not_yet("list image log streams")
    image_log_events = _not_yet("get image log events")
    image_stack_events = _not_yet("get image stack events")
