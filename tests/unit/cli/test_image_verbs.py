"""The image verbs' flags and answers that need no host: official images, argument errors, the aws provider."""

from __future__ import annotations

import pytest
from test_cli import run_cli

from paracluster.cli import main


def test_list_official_images_filters_and_refuses_unknown_values(capsys):
    code, body = run_cli(capsys, "list-official-images", "--os", "ubuntu2404", "--query", "images[].os")
    assert (code, body) == (0, ["ubuntu2404"])
    code, body = run_cli(capsys, "list-official-images", "--architecture", "sparc")
    assert (code, body) == (1, {"message": "sparc is not one of ['x86_64', 'arm64']"})


def test_list_images_needs_an_image_status(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["list-images"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --image-status" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["describe-image", "-i", "img"], ["list-images", "--image-status", "AVAILABLE"], ["delete-image", "-i", "img"],
    ["list-official-images"], ["list-image-log-streams", "-i", "img"], ["get-image-stack-events", "-i", "img"],
    ["get-image-log-events", "-i", "img", "--log-stream-name", "0.1.0/1"],
])
def test_the_aws_provider_says_in_one_sentence_that_it_has_no_images_yet(capsys, argv):
    code, body = run_cli(capsys, *argv, "--provider", "aws")
    assert code == 1 and set(body) == {"message"}
    assert body["message"].startswith("the aws provider cannot ") and body["message"].endswith("use --provider local")
