"""`paracluster imagebuilder create-component|list-components|get-component|delete-component`: Image Builder's
component verbs on the local component store, answering with the AWS CLI's JSON for those calls.

The region is --region, else $AWS_REGION or $AWS_DEFAULT_REGION (as the AWS CLI reads them), else us-east-1.
As with the AWS CLI, `--data file://doc.yaml` reads the document from a file.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_REGION = "us-east-1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="imagebuilder_action", metavar="ACTION", required=True)
    create = actions.add_parser("create-component", help="Create a component from an AWSTOE document.")
    create.add_argument("--name", required=True, help="Name of the component.")
    create.add_argument("--semantic-version", required=True, help="<major>.<minor>.<patch>, such as 1.0.0.")
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--uri", help="s3:// URL of the YAML document (fill it with `paracluster s3 cp`).")
    source.add_argument("--data", help="The YAML document itself, or file://PATH to read it from a file.")
    create.add_argument("--platform", default="Linux", help="Operating system platform (Linux).")
    create.add_argument("--description", default="", help="Description of the component.")
    create.add_argument("--change-description", default="", help="What changed in this version.")
    create.add_argument("--client-token", help="Idempotency token, echoed in the answer (generated if absent).")
    listing = actions.add_parser("list-components", help="List the components (every version).")
    get = actions.add_parser("get-component", help="Show a component and its document.")
    get.add_argument("--component-build-version-arn", required=True, help="ARN ending in /<version>/<build>.")
    delete = actions.add_parser("delete-component", help="Delete a component version.")
    delete.add_argument("--component-build-version-arn", required=True, help="ARN ending in /<version>/<build>.")
    for sub in (create, listing, get, delete):
        sub.add_argument("-r", "--region", help="Region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1).")
        sub.add_argument("--query", help="JMESPath query to perform on output.")
        # SUPPRESS: `imagebuilder --debug ACTION` (the verb's own flag) is not reset by the action's default
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="Turn on debug logging.")


def _region(args: argparse.Namespace) -> str:
    return args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _data(value: str | None) -> str | None:
    if value is None or not value.startswith("file://"):
        return value
    from paracluster.errors import BadRequestError

    path = value[len("file://"):]
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError) as err:
        raise BadRequestError(f"failed to read --data {value}: {getattr(err, 'strerror', None) or err}") from None


def run(args: argparse.Namespace) -> dict:
    import uuid

    from paracluster.images.components import ComponentStore, request_id
    from paracluster.settings import load_settings

    settings = load_settings()
    store = ComponentStore(settings.state_path, settings.account_id)
    action = args.imagebuilder_action
    if action == "create-component":
        record = store.create(args.name, args.semantic_version, region=_region(args), data=_data(args.data),
                              uri=args.uri, platform=args.platform, description=args.description,
                              change_description=args.change_description)
        return {"requestId": request_id(), "clientToken": args.client_token or str(uuid.uuid4()),
                "componentBuildVersionArn": record["arn"]}
    if action == "list-components":
        return {"requestId": request_id(), "componentVersionList": store.list(_region(args))}
    if action == "get-component":
        return {"requestId": request_id(), "component": store.get(args.component_build_version_arn)}
    return {"requestId": request_id(), "componentBuildVersionArn": store.delete(args.component_build_version_arn)}
