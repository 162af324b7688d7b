"""The local provider's image operations (the provider contract's ImageOperations) and its checks of AMI ids.

Builds, records, logs and events are the host service's (host/image_requests.py); official images and the checks
need no service: they are fixed, or read from the image store's records.
"""

from __future__ import annotations

from paracluster import __version__
from paracluster.errors import BadRequestError
from paracluster.images.records import ImageRecord, LogEventRecord, LogStreamRecord, OfficialImageRecord
from paracluster.records import StackEvent, from_data


class LocalImageOperations:
    """Mixed into LocalProvider, which has `settings` and `client`."""

    def validate_cluster(self, name: str, config, region: str | None, suppress=()) -> list:
        """Every CustomAmi the cluster names is an official or built local image of the cluster's OS."""
        from paracluster.providers.local.images.validate import cluster_findings

        return cluster_findings(self.settings.state_path, config, suppress)

    def validate_image(self, image_id: str, config, region: str | None, suppress=()) -> list:
        from paracluster.providers.local.images.validate import image_findings

        return image_findings(self.settings.state_path, config, suppress)

    def build_image(self, image_id: str, config_text: str, region: str | None,
                    rollback_on_failure: bool) -> ImageRecord:
        return from_data(ImageRecord, self.client.call("build_image", image_id=image_id, config_text=config_text,
                                                       region=region, rollback_on_failure=rollback_on_failure))

    def describe_image(self, image_id: str, region: str | None) -> ImageRecord:
        return from_data(ImageRecord, self.client.call("describe_image", image_id=image_id, region=region))

    def list_images(self, region: str | None) -> list[ImageRecord]:
        return [from_data(ImageRecord, item) for item in self.client.call("list_images", region=region)]

    def delete_image(self, image_id: str, region: str | None, force: bool) -> ImageRecord:
        return from_data(ImageRecord, self.client.call("delete_image", image_id=image_id, region=region,
                                                       force=force))

    def official_images(self, region: str | None, os: str | None, architecture: str | None) -> list[OfficialImageRecord]:
        from paracluster.providers.local.images.official import check_filters, official_images

        problem = check_filters(os, architecture)
        if problem:
            raise BadRequestError(problem)
        return official_images(__version__, os, architecture)

    def image_log_streams(self, image_id: str, region: str | None) -> list[LogStreamRecord]:
        return [from_data(LogStreamRecord, item)
                for item in self.client.call("image_log_streams", image_id=image_id, region=region)]

    def image_log_events(self, image_id: str, region: str | None, stream: str) -> list[LogEventRecord]:
        return [from_data(LogEventRecord, item)
                for item in self.client.call("image_log_events", image_id=image_id, stream=stream, region=region)]

    def image_stack_events(self, image_id: str, region: str | None,
                           next_token: str | None) -> tuple[list[StackEvent], str | None]:
        answer = self.client.call("image_stack_events", image_id=image_id, region=region, next_token=next_token)
        return [from_data(StackEvent, item) for item in answer["events"]], answer.get("next_token")
