"""The ca role on a lab host: root, leaf for the cell's names, key modes, CRL, renewal."""

import re

VERIFY_CRL = "openssl verify -crl_check -CAfile /etc/pic/ca/root.crt -CRLfile /etc/pic/ca/crl.pem"
NAMES = [f"{n}home.cell" for n in ("", "calendar.", "files.", "mail.", "ns.", "ntp.", "vpn.")]


def leaf_serial(cell):
    out = cell.check_output("openssl x509 -in /etc/pic/ca/issued/cell.crt -noout -serial")
    return out.split("=", 1)[1].strip()


def test_leaf_verifies_against_the_root(cell):
    # cell.crt holds the leaf and the chain; the root alone is the trust anchor.
    res = cell.run("openssl verify -CAfile /etc/pic/ca/root.crt -purpose sslserver /etc/pic/tls/cell.crt")
    assert res.rc == 0 and res.stdout.strip().endswith("OK"), res.stdout + res.stderr
    chain = cell.file("/etc/pic/tls/cell.crt").content_string
    assert chain.count("BEGIN CERTIFICATE") == 2


def test_root_is_a_ca(cell):
    text = cell.check_output("openssl x509 -in /etc/pic/ca/root.crt -noout -text")
    assert "CA:TRUE" in text
    assert "Certificate Sign, CRL Sign" in text
    assert "Subject: CN = PIC home root CA" in text


def test_leaf_names(cell):
    text = cell.check_output("openssl x509 -in /etc/pic/tls/cell.crt -noout -ext subjectAltName")
    sans = re.findall(r"DNS:([^,\s]+)", text)
    assert sans == NAMES
    for name in NAMES:
        res = cell.run(f"openssl x509 -in /etc/pic/tls/cell.crt -noout -checkhost {name}")
        assert "does match" in res.stdout, res.stdout
    other = cell.run("openssl x509 -in /etc/pic/tls/cell.crt -noout -checkhost other.cell")
    assert "does NOT match" in other.stdout
    eku = cell.check_output("openssl x509 -in /etc/pic/tls/cell.crt -noout -ext extendedKeyUsage")
    assert "TLS Web Server Authentication" in eku


def test_leaf_names_the_lan_address(cell):
    text = cell.check_output("openssl x509 -in /etc/pic/tls/cell.crt -noout -ext subjectAltName")
    assert re.findall(r"IP Address:([^,\s]+)", text) == ["192.168.50.1"]
    assert "does match" in cell.run("openssl x509 -in /etc/pic/tls/cell.crt -noout -checkip 192.168.50.1").stdout
    assert "does NOT match" in cell.run("openssl x509 -in /etc/pic/tls/cell.crt -noout -checkip 192.168.50.2").stdout


def test_key_modes(cell):
    root_key = cell.file("/etc/pic/ca/private/root.key")
    assert (root_key.user, root_key.group, root_key.mode) == ("root", "root", 0o600)
    assert cell.file("/etc/pic/ca/private").mode == 0o700
    leaf_key = cell.file("/etc/pic/tls/cell.key")
    assert (leaf_key.user, leaf_key.group, leaf_key.mode) == ("root", "pic-tls", 0o640)
    root = cell.file("/etc/pic/ca/root.crt")
    assert root.mode == 0o644
    # The key belongs to the leaf.
    a = cell.check_output("openssl pkey -in /etc/pic/tls/cell.key -pubout")
    b = cell.check_output("openssl x509 -in /etc/pic/tls/cell.crt -noout -pubkey")
    assert a == b


def test_tls_group_member_reads_the_key_others_do_not(cell):
    cell.run("useradd --system --no-create-home tlsuser; usermod -aG pic-tls tlsuser")
    cell.run("useradd --system --no-create-home nobodyelse")
    assert cell.run("runuser -u tlsuser -- cat /etc/pic/tls/cell.key").rc == 0
    assert cell.run("runuser -u nobodyelse -- cat /etc/pic/tls/cell.key").rc != 0
    assert cell.run("runuser -u tlsuser -- cat /etc/pic/ca/private/root.key").rc != 0
    # The API's account (group pic, owner of /etc/pic) reads the root certificate it serves.
    assert cell.run("runuser -u pic -- cat /etc/pic/ca/root.crt").rc == 0
    assert cell.run("runuser -u pic -- cat /etc/pic/ca/private/root.key").rc != 0


def test_crl_parses_and_lists_the_revoked_serials(cell):
    res = cell.run("openssl crl -in /etc/pic/ca/crl.pem -CAfile /etc/pic/ca/root.crt -noout -text")
    assert res.rc == 0, res.stderr
    assert "verify OK" in res.stderr + res.stdout
    assert "Serial Number: 1234" in res.stdout  # 4660
    assert "Serial Number: 0ABCDE" in res.stdout
    assert "Next Update" in res.stdout


def test_crl_revokes_a_certificate_in_openssl_verify(cell):
    # The leaf is not revoked: a CRL-checking verify accepts it.
    res = cell.run(f"{VERIFY_CRL} /etc/pic/ca/issued/cell.crt")
    assert res.rc == 0, res.stdout + res.stderr
