"""Local key pair verbs: create, import, describe, delete; private keys stay 0600 in the state directory."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from paracluster.cli import main


def run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_create_describe_delete(capsys):
    code, created = run_cli(capsys, "create-key-pair", "-k", "mine")
    assert code == 0 and created["keyName"] == "mine" and created["keyType"] == "ssh-ed25519"
    private = created["privateKeyFile"]
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert created["keyFingerprint"].startswith("SHA256:")
    assert run_cli(capsys, "describe-key-pairs")[1]["keyPairs"][0]["keyName"] == "mine"
    code, again = run_cli(capsys, "create-key-pair", "-k", "mine")
    assert code == 1 and again["message"].startswith("key pair 'mine' already exists")
    assert run_cli(capsys, "delete-key-pair", "-k", "mine") == (0, {"message": "Deleted key pair 'mine'."})
    assert not os.path.exists(private)
    assert run_cli(capsys, "describe-key-pairs")[1] == {"keyPairs": []}


def test_import_public_key(capsys, tmp_path):
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    code, imported = run_cli(capsys, "import-key-pair", "-k", "theirs", "--public-key-file", f"{key}.pub")
    assert code == 0 and "privateKeyFile" not in imported  # the private key stays with its owner
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    code, refused = run_cli(capsys, "import-key-pair", "-k", "other", "--public-key-file", str(bad))
    assert code == 1 and refused["message"].startswith("the public key file does not hold one OpenSSH public key")
    code, missing = run_cli(capsys, "import-key-pair", "-k", "other", "--public-key-file", str(tmp_path / "none"))
    assert code == 1 and missing["message"].startswith("failed to read --public-key-file")
    code, bad_name = run_cli(capsys, "create-key-pair", "-k", "bad/name")
    assert code == 1 and "key pair name 'bad/name' is invalid" in bad_name["message"]
