"""Re-converges with other variables: the renewal window, a changed name list with the old leaf
revoked. Runs after test_ca.py (file order); the scenario ends after verify."""

import re

from test_ca import VERIFY_CRL, leaf_serial


def octets(serial_hex: str) -> str:
    s = serial_hex if len(serial_hex) % 2 == 0 else "0" + serial_hex
    return ":".join(s[i : i + 2] for i in range(0, len(s), 2)).upper()


def test_leaf_inside_the_renewal_window_is_reissued(cell, converge):
    before = leaf_serial(cell)
    # A 365-day leaf is always inside a 400-day renewal window.
    res = converge({"ca_leaf_renew_days": 400})
    assert res.returncode == 0, res.stdout[-3000:]
    assert leaf_serial(cell) != before
    assert cell.run("openssl verify -CAfile /etc/pic/ca/root.crt /etc/pic/tls/cell.crt").rc == 0


def test_changed_names_reissue_the_leaf_and_the_old_one_is_revoked(cell, converge):
    before = leaf_serial(cell)
    kept = set(cell.check_output("ls /etc/pic/ca/issued").split())
    names = ["home.cell", "extra.home.cell"]
    res = converge({"ca_leaf_names": names, "ca_revoked": [4660, "0A:BC:DE", octets(before)]})
    assert res.returncode == 0, res.stdout[-3000:]
    text = cell.check_output("openssl x509 -in /etc/pic/tls/cell.crt -noout -ext subjectAltName")
    assert re.findall(r"DNS:([^,\s]+)", text) == names
    assert leaf_serial(cell) != before
    # The replaced leaf was kept beside the new one; the CRL now revokes it.
    old = sorted(set(cell.check_output("ls /etc/pic/ca/issued").split()) - kept)
    assert old, "the replaced leaf was not kept"
    old_path = f"/etc/pic/ca/issued/{old[0]}"
    assert leaf_serial_of(cell, old_path) == before
    crl = cell.check_output("openssl crl -in /etc/pic/ca/crl.pem -noout -text")
    assert crl.count("Serial Number:") == 3
    res = cell.run(f"{VERIFY_CRL} '{old_path}'")
    assert res.rc != 0 and "revoked" in res.stdout + res.stderr
    res = cell.run(f"{VERIFY_CRL} /etc/pic/ca/issued/cell.crt")
    assert res.rc == 0


def leaf_serial_of(cell, path):
    return cell.check_output(f"openssl x509 -in '{path}' -noout -serial").split("=", 1)[1].strip()


def test_a_renamed_cell_keeps_its_root_and_gets_a_leaf_of_the_new_names(cell, converge):
    """Every device trusts the root: a rename (whose default root name is the cell's) re-issues the
    leaf for the new zone under the same root, never a new root."""
    root = cell.check_output("openssl x509 -in /etc/pic/ca/root.crt -noout -fingerprint -sha256")
    res = converge({"pic_cell_name": "attic"})
    assert res.returncode == 0, res.stdout[-3000:]
    assert cell.check_output("openssl x509 -in /etc/pic/ca/root.crt -noout -fingerprint -sha256") == root
    text = cell.check_output("openssl x509 -in /etc/pic/tls/cell.crt -noout -ext subjectAltName")
    assert "DNS:attic.cell" in text and "home.cell" not in text, text
    assert cell.run("openssl verify -CAfile /etc/pic/ca/root.crt /etc/pic/tls/cell.crt").rc == 0
    assert cell.check_output("cat /etc/pic/ca/root.name").strip() == "PIC home root CA"
