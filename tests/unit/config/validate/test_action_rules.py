"""Script and package location validators: accepted and rejected locations, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings, run

# HeadNode is line 3 of BASE_CLUSTER; the actions below follow it, so OnNodeStart/Script is line 6.


def _head_actions(start: str, configured: str = "https://example.com/b.sh") -> str:
    actions = f"""\
  CustomActions:
    OnNodeStart:
      Script: {start}
      Args: [a]
    OnNodeConfigured:
      Sequence:
        - Script: s3://bucket/first.sh
        - Script: {configured}
"""
    return BASE_CLUSTER.replace("HeadNode:\n", "HeadNode:\n" + actions)


@pytest.mark.parametrize(
    "script",
    ["s3://bucket/a.sh", "s3://bucket/", "https://example.com/a.sh", "HTTPS://example.com/a.sh", "/opt/site/a.sh",
     "file:///opt/site/a.sh"],
)
def test_custom_action_script_passes(script):
    assert findings(_head_actions(script), "AsyncTimedUrlValidator") == []


LOCAL_TOO = "is neither an s3:// or https:// URL nor an absolute local path; use one of those"


@pytest.mark.parametrize(
    ("script", "text"),
    [
        ("http://example.com/a.sh", LOCAL_TOO),
        ("ftp://example.com/a.sh", LOCAL_TOO),
        ("scripts/a.sh", LOCAL_TOO),
        ("file://host/a.sh", LOCAL_TOO),
        ("s3://bucket", "names no object; use s3://bucket/key"),
    ],
)
def test_custom_action_script(script, text):
    found = findings(_head_actions(script), "AsyncTimedUrlValidator")
    assert found == [("ERROR", f"HeadNode/CustomActions/OnNodeStart/Script (line 6): '{script}' {text}")]


def test_sequence_items_and_repeats():
    text = _head_actions("http://example.com/a.sh", configured="http://example.com/a.sh")
    # The same location is reported once, at its first use, as ParallelCluster caches URL checks.
    found = findings(text, "AsyncTimedUrlValidator")
    assert len(found) == 1 and found[0][1].startswith("HeadNode/CustomActions/OnNodeStart/Script (line 6): ")
    found = findings(_head_actions("s3://bucket/a.sh", configured="b.sh"), "AsyncTimedUrlValidator")
    assert len(found) == 1
    assert found[0][1].startswith("HeadNode/CustomActions/OnNodeConfigured/Sequence[1]/Script (line 11): 'b.sh'")


def test_queue_and_login_node_scripts():
    queue = "      CustomActions:\n        OnNodeStart:\n          Script: http://example.com/q.sh\n"
    text = BASE_CLUSTER.replace("    - Name: queue1\n", "    - Name: queue1\n" + queue)
    text += """\
LoginNodes:
  Pools:
    - Name: login
      InstanceType: c5.large
      Count: 1
      Networking:
        SubnetIds:
          - subnet-12345678
      CustomActions:
        OnNodeConfigured:
          Script: ftp://example.com/l.sh
"""
    found = findings(text, "AsyncTimedUrlValidator")
    assert [message.split(": ")[0] for _, message in found] == [
        "Scheduling/SlurmQueues[0]/CustomActions/OnNodeStart/Script (line 13)",
        "LoginNodes/Pools[0]/CustomActions/OnNodeConfigured/Script (line 30)",
    ]


def _dev(body: str) -> str:
    return BASE_CLUSTER + "DevSettings:\n" + "".join(f"  {line}\n" for line in body.splitlines())


def test_urls_pass():
    body = "Cookbook:\n  ChefCookbook: s3://bucket/cookbook.tgz\nNodePackage: https://example.com/node.tgz\n" \
           "AwsBatchCliPackage: s3://bucket/cli.tgz\nClusterTemplate: https://example.com/template.yaml"
    assert findings(_dev(body), "UrlValidator") == []
    assert findings(BASE_CLUSTER, "UrlValidator") == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("Cookbook:\n  ChefCookbook: /opt/cookbook.tgz", "DevSettings/Cookbook/ChefCookbook (line 19)"),
        ("NodePackage: http://example.com/node.tgz", "DevSettings/NodePackage (line 18)"),
        ("ClusterTemplate: s3://bucket", "DevSettings/ClusterTemplate (line 18)"),
    ],
)
def test_urls(body, where):
    found = findings(_dev(body), "UrlValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"{where}: '")


def test_aws_batch_cli_package_is_ignored_with_a_warning():
    # ParallelCluster 3.16 removed the key with AWS Batch: no URL check, a schema warning naming the release.
    outcome = run(_dev("AwsBatchCliPackage: cli.tgz"))
    assert [f for f in outcome.findings if f.type == "UrlValidator"] == []
    assert [(f.level.name, f.message) for f in outcome.findings if f.type == "ConfigSchemaValidator"] == [
        ("WARNING", "DevSettings/AwsBatchCliPackage (line 18): was removed in ParallelCluster 3.16 together with "
                    "AWS Batch and is ignored; remove it")]


def test_custom_slurm_settings_include_file():
    def include(url: str) -> str:
        settings = f"  SlurmSettings:\n    CustomSlurmSettingsIncludeFile: {url}\n"
        return BASE_CLUSTER.replace("  Scheduler: slurm\n", "  Scheduler: slurm\n" + settings)

    assert findings(include("s3://bucket/slurm.conf"), "UrlValidator") == []
    found = findings(include("/etc/slurm/extra.conf"), "UrlValidator")
    assert found == [("ERROR", "Scheduling/SlurmSettings/CustomSlurmSettingsIncludeFile (line 10): "
                      "'/etc/slurm/extra.conf' is neither an s3:// nor an https:// URL; use s3://bucket/key or an "
                      "https:// URL")]


IMAGE = "Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-12345678\nDevSettings:\n  NodePackage: {}\n"


def test_image_urls():
    assert findings(IMAGE.format("s3://bucket/node.tgz"), "UrlValidator", kind="image", cluster_name=None) == []
    found = findings(IMAGE.format("http://example.com/node.tgz"), "UrlValidator", kind="image", cluster_name=None)
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("DevSettings/NodePackage (line 5): 'http://example.com/node.tgz' is neither")
