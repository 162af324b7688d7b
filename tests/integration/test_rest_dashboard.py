"""The dashboard in a real headless Chromium (Debian's, driven by playwright): it loads, shows a bad config's
errors at their lines, creates a cluster that reaches CREATE_COMPLETE with its Slurm nodes, stops and starts its
compute fleet, shows a log stream's events, updates it (a dry run's change set first), and deletes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_support import private_cli, wait_for
from rest_support import SMALL, api_server

CHROMIUM = "/usr/bin/chromium"
# Flags for a headless Chromium with no network of its own and nothing to sync or update.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"the dashboard tests need {CHROMIUM}; run `make test`, which installs Debian's chromium",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_dashboard(browser, server, token: str):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(f"{server.url}/ui/#token={token}")
    page.wait_for_selector("#clusters-view:not([hidden])")
    return page, errors


def test_the_dashboard_validates_creates_shows_and_deletes_a_cluster(tmp_path, browser):
    with private_cli(tmp_path) as cli, api_server(cli) as server:
        page, errors = open_dashboard(browser, server, server.token)
        assert page.url.endswith("/ui/")  # the token left the address bar
        page.wait_for_selector("#no-clusters:not([hidden])")

        page.click("#tabs button[data-view=create]")
        page.fill("#create-name", "pcldash")
        upload = tmp_path / "cluster.yaml"
        upload.write_text(SMALL)
        page.set_input_files("#create-file", str(upload))  # an uploaded file lands in the editor
        page.wait_for_function("text => document.querySelector('#create-config').value === text", arg=SMALL)
        bad = SMALL.replace("Name: work", "Name: Work_1")
        bad_line = bad.splitlines().index("    - Name: Work_1") + 1
        page.fill("#create-config", bad)
        page.click("#validate-submit")
        line = page.wait_for_selector(f".config-line.error[data-line='{bad_line}']")
        assert "Work_1" in line.text_content() and "ERROR" in line.text_content()
        assert page.text_content("#create-message") == "Invalid cluster configuration."

        page.fill("#create-config", SMALL)
        page.click("#validate-submit")
        page.wait_for_selector("#create-message.ok")
        page.click("#create-submit")
        row = "#cluster-list tr[data-cluster=pcldash]"
        page.wait_for_selector(f"{row} td.status:has-text('CREATE_COMPLETE')", timeout=180_000)
        page.wait_for_selector("#slurm-nodes .queue[data-queue=work] tr[data-node=work-st-c5-1]", timeout=30_000)
        assert "powered down" in page.text_content("#slurm-nodes .queue[data-queue=work] h4")
        # A flat line has no height, which playwright calls hidden: wait for it to exist, read the legend.
        page.wait_for_selector("#node-chart svg path[data-series='work running']", state="attached")
        assert "work running: 1" in page.text_content("#node-chart .legend")
        page.wait_for_selector(f"{row} td.fleet:has-text('RUNNING')")

        page.click("#fleet-stop")  # the cluster manager carries it out: STOP_REQUESTED, STOPPING, STOPPED
        page.wait_for_selector(f"{row} td.fleet:text-is('STOPPED')", timeout=60_000)
        page.click("#fleet-start")
        page.wait_for_selector(f"{row} td.fleet:text-is('RUNNING')", timeout=60_000)

        page.click("#load-logs")  # the head node's slurmctld stream, then its latest events
        page.click("#logs tr[data-stream$='.slurmctld'] a")  # the head node's (it alone runs slurmctld)
        page.wait_for_selector("#log-listing .log-line:has-text('slurmctld version')")

        page.click("#update-cluster")  # the current configuration in the editor; a dry run, then the update
        page.wait_for_function("text => document.querySelector('#update-config').value === text", arg=SMALL)
        assert page.is_disabled("#update-apply")
        page.fill("#update-config", SMALL.replace("MaxCount: 2", "MaxCount: 3"))
        page.click("#update-check")
        page.wait_for_selector("#update-result tr[data-parameter='Scheduling.SlurmQueues[work].ComputeResources[c5]"
                               ".MaxCount'] td:has-text('3')")
        page.click("#update-apply")
        page.wait_for_selector(f"{row} td.status:has-text('UPDATE_COMPLETE')", timeout=60_000)

        page.click("#delete-cluster")
        page.fill("#delete-name", "pcldash")
        page.click("#delete-confirm button[type=submit]")
        page.wait_for_selector(row, state="detached", timeout=180_000)
        assert server.client.get("/v3/clusters/pcldash").status_code == 404
        assert errors == []


def test_a_read_only_token_sees_the_page_without_its_actions(tmp_path, browser):
    with private_cli(tmp_path) as cli, api_server(cli) as server:
        reader = cli.json("api", "token", "create", "--read-only", "--name", "viewer")["token"]
        page, errors = open_dashboard(browser, server, reader)
        assert page.text_content("#whoami") == "viewer (read-only)"
        assert page.is_disabled("#create-submit") and page.is_disabled("#delete-cluster")
        page.click("#tabs button[data-view=images]")
        page.wait_for_selector("#official-images td:text('alinux2023')")
        page.wait_for_selector("#custom-images :text('No custom images yet')")
        assert errors == []


def test_the_images_tab_lists_images_with_their_status_and_a_failed_builds_reason(tmp_path, browser):
    with private_cli(tmp_path) as cli, api_server(cli) as server:
        official = server.client.get("/v3/images/official?os=alinux2023").json()["images"][0]["amiId"]
        built = f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {official}\n"
        failing = built + "  Components:\n    - Type: script\n      Value: s3://pcl-nosuch-bucket/setup.sh\n"
        for image_id, config in (("dash-built", built), ("dash-failed", failing)):
            answer = server.client.post("/v3/images/custom", json={"imageId": image_id, "imageConfiguration": config})
            assert answer.status_code == 202, answer.text
        for image_id in ("dash-built", "dash-failed"):
            wait_for(lambda image_id=image_id: server.client.get(f"/v3/images/custom/{image_id}").json()[
                "imageBuildStatus"] != "BUILD_IN_PROGRESS", timeout=120, what=f"the build of {image_id} to end")
        page, errors = open_dashboard(browser, server, server.token)
        page.click("#tabs button[data-view=images]")
        row = page.wait_for_selector("#custom-images tr[data-image=dash-built]")
        assert "BUILD_COMPLETE" in row.text_content() and "ami-" in row.text_content()
        row = page.wait_for_selector("#custom-images tr[data-image=dash-failed]")
        assert "BUILD_FAILED" in row.text_content() and "pcl-nosuch-bucket" in row.text_content()
        assert errors == []
