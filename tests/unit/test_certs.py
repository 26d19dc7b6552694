"""The Vault's certificates: issued by the agent's code from a real root CA (checked with openssl),
listed, revoked into the state the ca role reads; what is refused, and the key kept nowhere."""

import base64
import datetime as dt
import subprocess

import pytest
from conftest import csrf, wait_run
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from pic_api.core import schema
from pic_api.managers import certs


@pytest.fixture
def root(config):
    """A root CA where the ca role keeps it: <ca dir>/root.crt and <ca dir>/private/root.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PIC test root CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (config.ca_root_file.parent / "private").mkdir(parents=True, exist_ok=True)
    config.ca_root_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (config.ca_root_file.parent / "private" / "root.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert


def issue(client, **body):
    return client.post("/api/ca/certificates", json=body, headers=csrf(client))


def test_a_certificate_is_issued_verifies_against_the_root_and_its_key_is_kept_nowhere(app, admin, config, root,
                                                                                      tmp_path):
    resp = issue(admin, name="printer.home.cell", days=30)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    made = body["certificate"]
    assert made["name"] == "printer.home.cell" and made["revoked"] is False
    assert len(made["serial"].split(":")) >= 16  # random, 128 bits or so
    (tmp_path / "cert.pem").write_text(body["certificate_pem"])
    (tmp_path / "key.pem").write_text(body["key_pem"])
    ok = subprocess.run(["openssl", "verify", "-CAfile", str(config.ca_root_file), "-purpose", "sslserver",
                         "-verify_hostname", "printer.home.cell", str(tmp_path / "cert.pem")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ": OK" in ok.stdout, ok.stdout + ok.stderr
    # the key is the certificate's
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    key = serialization.load_pem_private_key(body["key_pem"].encode(), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    end = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=30) <= end <= dt.timedelta(days=30, minutes=6)
    # listed (public part only on disk), and the key in no file of the cell's
    assert [c["serial"] for c in admin.get("/api/ca/certificates").get_json()["certificates"]] == [made["serial"]]
    secret = body["key_pem"].splitlines()[1]
    for path in config.ca_root_file.parent.rglob("*"):
        if path.is_file() and path.name != "root.key":
            assert secret not in path.read_text(errors="replace"), path
    for path in [config.state_file, *config.run_dir.rglob("*")]:
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_a_revoked_certificate_goes_into_the_state_the_ca_role_reads(app, admin, config, root):
    made = issue(admin, name="nas").get_json()["certificate"]
    other = issue(admin, name="laptop.home.cell").get_json()["certificate"]
    resp = admin.post(f"/api/ca/certificates/{made['serial']}/revoke", headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["certificate"]["revoked"] is True
    assert "ca" in wait_run(app, resp.get_json()["run_id"])["tags"]
    state = app.extensions["pic"].state.load()
    assert state["ca"]["revoked"] == [made["serial"]]
    assert schema.state_to_vars(state)["pic_ca_revoked"] == [made["serial"]]
    listed = {c["serial"]: c["revoked"] for c in admin.get("/api/ca/certificates").get_json()["certificates"]}
    assert listed == {made["serial"]: True, other["serial"]: False}
    again = admin.post(f"/api/ca/certificates/{made['serial']}/revoke", headers=csrf(admin))
    assert again.status_code == 409
    assert admin.post("/api/ca/certificates/AB:CD/revoke", headers=csrf(admin)).status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [({"name": "Printer"}, "name"), ({"name": "-x.cell"}, "name"), ({}, "name"), ({"name": "a", "days": 0}, "days"),
     ({"name": "a", "days": 826}, "days"), ({"name": "a", "key": "x"}, "key")],
)
def test_a_bad_request_is_400_naming_the_field_and_issues_nothing(admin, config, root, body, field):
    resp = issue(admin, **body)
    assert resp.status_code == 400 and field in resp.get_json()["fields"], resp.get_json()
    assert certs.issued(config.ca_root_file) == []


def test_without_a_ca_nothing_is_issued(admin, config):
    resp = issue(admin, name="printer")
    assert resp.status_code == 409 and "not been made yet" in resp.get_json()["error"]


def test_the_serial_is_written_as_the_ca_role_reads_it():
    assert certs.serial_text(0xABC) == "0A:BC" and certs.serial_text(255) == "FF"


def test_with_a_password_the_answer_holds_a_pkcs12_file_that_openssl_opens(admin, config, root, tmp_path):
    body = issue(admin, name="phone.home.cell", pkcs12_password="long enough 1").get_json()
    p12 = tmp_path / "phone.p12"
    p12.write_bytes(base64.b64decode(body["pkcs12"]))
    # the ciphers every importer reads (older Android and macOS key stores refuse the AES form)
    info = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-info", "-noout", "-passin", "pass:long enough 1"],
                          capture_output=True, text=True)
    said = info.stdout + info.stderr  # openssl prints the -info lines on stderr
    assert info.returncode == 0 and "MAC: sha1" in said, said
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in said, said
    key, cert, chain = pkcs12.load_key_and_certificates(p12.read_bytes(), b"long enough 1")
    assert cert.public_bytes(serialization.Encoding.PEM).decode() == body["certificate_pem"]
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert [c.subject for c in chain] == [root.subject]
    wrong = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-nodes", "-passin", "pass:wrong one!"],
                           capture_output=True)
    assert wrong.returncode != 0
    # without a password, no PKCS#12; a short one is refused at its field, and nothing is issued
    assert "pkcs12" not in issue(admin, name="tablet.home.cell").get_json()
    before = admin.get("/api/ca/certificates").get_json()["certificates"]
    resp = issue(admin, name="watch.home.cell", pkcs12_password="short")
    assert resp.status_code == 400 and "pkcs12_password" in resp.get_json()["fields"], resp.get_json()
    assert admin.get("/api/ca/certificates").get_json()["certificates"] == before
