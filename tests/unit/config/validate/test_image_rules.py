"""Image config validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import findings

BASE_IMAGE = "Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-12345678\n"


def image_findings(text: str, validator_type: str) -> list[tuple[str, str]]:
    return findings(text, validator_type, kind="image", cluster_name=None)


def with_components(count: int) -> str:
    item = "    - Type: arn\n      Value: arn:aws:imagebuilder:us-east-1:aws:component/c{i}/1.0.0\n"
    return BASE_IMAGE + "  Components:\n" + "".join(item.format(i=i) for i in range(count))


@pytest.mark.parametrize("count", [0, 15])
def test_components_within_limit(count):
    assert image_findings(with_components(count) if count else BASE_IMAGE, "ComponentsValidator") == []


def test_too_many_components():
    found = image_findings(with_components(16), "ComponentsValidator")
    assert found == [("ERROR", "Build/Components (line 4): has 16 components; an image build can have at most 15")]


@pytest.mark.parametrize(
    "extra",
    ["", "  SecurityGroupIds: [sg-12345678]\n", "  SubnetId: subnet-12345678\n  SecurityGroupIds: [sg-12345678]\n"],
)
def test_subnet_with_security_groups(extra):
    assert image_findings(BASE_IMAGE + extra, "SecurityGroupsAndSubnetValidator") == []


def test_subnet_without_security_groups():
    found = image_findings(BASE_IMAGE + "  SubnetId: subnet-12345678\n", "SecurityGroupsAndSubnetValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Build/SubnetId (line 4): a build in subnet subnet-12345678 also needs")


def root_volume(**settings) -> str:
    """BASE_IMAGE plus Image/RootVolume; its settings start at line 6 in the order given."""
    return BASE_IMAGE + "Image:\n  RootVolume:\n" + "".join(f"    {k}: {v}\n" for k, v in settings.items())


@pytest.mark.parametrize("text", [BASE_IMAGE, root_volume(Size=1), root_volume(Size=16384), root_volume(Size=0)])
def test_root_volume_size_ok(text):
    assert image_findings(text, "EbsVolumeTypeSizeValidator") == []


@pytest.mark.parametrize(("size", "words"), [(16385, "more than the 16384 GiB"), (-5, "less than the 1 GiB")])
def test_root_volume_size_wrong(size, words):
    found = image_findings(root_volume(Size=size), "EbsVolumeTypeSizeValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"Image/RootVolume/Size (line 6): {size} GiB is {words}")


@pytest.mark.parametrize("text", [BASE_IMAGE, root_volume(KmsKeyId="key", Encrypted="true"), root_volume(Size=50)])
def test_root_volume_kms_key_encrypted(text):
    assert image_findings(text, "KmsKeyIdEncryptedValidator") == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (root_volume(KmsKeyId="key"), "Image/RootVolume/KmsKeyId (line 6)"),
        (root_volume(KmsKeyId="key", Encrypted="false"), "Image/RootVolume/Encrypted (line 7)"),
    ],
)
def test_root_volume_kms_key_unencrypted(text, where):
    found = image_findings(text, "KmsKeyIdEncryptedValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"{where}: KmsKeyId key is set but Encrypted is false")
