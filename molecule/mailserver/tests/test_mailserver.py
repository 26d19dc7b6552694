"""The mailserver role on a cell, driven by a real client host.

The client trusts only the cell's root CA. It submits mail with swaks on 587 (STARTTLS, AUTH),
reads it back with Python's imaplib on 993, checks the DKIM signature with dkimpy against the key
the role published for DNS, and tries what must be refused: relaying for an outside domain,
a wrong password, AUTH before STARTTLS, a forged sender.
"""

import json
import re
import time
import uuid

import pytest
import yaml

DOMAIN = "mycell.cell"
MAIL_NAME = f"mail.{DOMAIN}"
PASSWORDS = {"alice": "alice-test-password", "bob": "bob-test-password"}
ROOT_ON_CLIENT = "/tmp/cell-root.crt"

# Runs on the client: log in over IMAPS trusting only the cell root (hostname checked against the
# mail name while connecting by address), wait for a message whose Subject carries a token, print
# it as JSON.
IMAP_FETCH = r"""
import imaplib, json, ssl, sys, time
ip, user, password, token, cafile, name = sys.argv[1:7]
# Only the cell root: with a cafile, the default context loads no system CA.
ctx = ssl.create_default_context(cafile=cafile)
class ByAddress(imaplib.IMAP4_SSL):
    # Connect to the address, check the certificate against the mail name.
    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=name)
result = {"login": None, "message": None}
imap = ByAddress(ip, 993, ssl_context=ctx)
result["peer_names"] = [v for k, v in imap.sock.getpeercert().get("subjectAltName", ()) if k == "DNS"]
try:
    imap.login(user, password)
    result["login"] = "ok"
except imaplib.IMAP4.error as e:
    result["login"] = "refused: %s" % e
    print(json.dumps(result)); sys.exit(0)
deadline = time.time() + 30
while time.time() < deadline and token:
    imap.select("INBOX")
    typ, data = imap.search(None, "SUBJECT", token)
    ids = data[0].split()
    if ids:
        typ, msg = imap.fetch(ids[-1], "(RFC822)")
        result["message"] = msg[0][1].decode("utf-8", "replace")
        break
    imap.close()
    time.sleep(1)
imap.logout()
print(json.dumps(result))
"""

# Runs on the client: verify the DKIM signature of a message, answering dkimpy's DNS query for the
# selector from the TXT record the role wrote for the DNS roles (no DNS query leaves the lab).
DKIM_VERIFY = r"""
import json, sys, dkim
message = open(sys.argv[1], "rb").read()
records = json.load(open(sys.argv[2]))
zone = sys.argv[3]
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    for r in records:
        fqdn = zone if r["name"] == "@" else r["name"] + "." + zone
        if r["type"] == "TXT" and fqdn + "." == name.rstrip(".") + ".":
            return r["value"].encode()
    return None
print("verified" if dkim.verify(message, dnsfunc=dnsfunc) else "not verified")
"""


@pytest.fixture(scope="module")
def cell_ip(host_ip):
    return host_ip["cell"]


@pytest.fixture(scope="module")
def client_trusts_cell_root(lab, cell):
    root = cell.file("/etc/pic/ca/root.crt").content_string
    assert "BEGIN CERTIFICATE" in root
    lab.exec("client", ["sh", "-c", f"cat > {ROOT_ON_CLIENT}"], input=root, check=True)
    return ROOT_ON_CLIENT


def refused(stdout, code):
    """swaks shows a server's error reply as '<** 554 ...' (or '<~* 535 ...' inside TLS)."""
    return re.search(rf"^<[~*-]?\*\s+{code}", stdout, re.MULTILINE) is not None


def swaks(lab, *args):
    return lab.exec("client", ["swaks", "--timeout", "20", *args])


def submit(lab, cell_ip, ca, user, password, to, subject, sender=None, extra=()):
    sender = sender or f"{user}@{DOMAIN}"
    return swaks(
        lab,
        "--to",
        to,
        "--from",
        sender,
        "--server",
        f"{cell_ip}:587",
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        ca,
        "--auth",
        "PLAIN",
        "--auth-user",
        f"{user}@{DOMAIN}",
        "--auth-password",
        password,
        "--header",
        f"Subject: {subject}",
        "--body",
        f"test message {subject}\n",
        *extra,
    )


def imap_fetch(lab, cell_ip, ca, user, password, token=""):
    res = lab.exec(
        "client", ["python3", "-c", IMAP_FETCH, cell_ip, f"{user}@{DOMAIN}", password, token, ca, MAIL_NAME]
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


# ---- the cell ------------------------------------------------------------------------------
def test_daemons_active(cell):
    for svc in ("postfix", "dovecot", "opendkim"):
        assert cell.service(svc).is_running, svc
        assert cell.service(svc).is_enabled, svc


def test_ports(cell):
    for port in (25, 587, 993):
        assert cell.socket(f"tcp://0.0.0.0:{port}").is_listening, port
    # No plaintext IMAP.
    assert not cell.socket("tcp://0.0.0.0:143").is_listening


def test_users_file(cell):
    f = cell.file("/etc/dovecot/pic-users")
    assert (f.user, f.group, f.mode) == ("root", "dovecot", 0o640)
    lines = [line for line in f.content_string.splitlines() if line and not line.startswith("#")]
    names = sorted(line.split(":", 1)[0] for line in lines)
    # carol has no mail service: no mailbox.
    assert names == [f"alice@{DOMAIN}", f"bob@{DOMAIN}"]
    assert all(":{BLF-CRYPT}$2b$" in line for line in lines)


def test_dkim_key_private(cell):
    key = cell.file("/etc/dkimkeys/mail.private")
    assert (key.user, key.mode) == ("opendkim", 0o600)
    assert cell.file("/etc/dkimkeys").mode == 0o700


def test_daemons_may_read_the_tls_key(cell):
    for user in ("postfix", "dovecot"):
        assert "pic-tls" in cell.user(user).groups, user


def test_relay_restrictions(cell):
    value = cell.check_output("postconf -h smtpd_relay_restrictions")
    assert value == "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
    assert cell.check_output("postconf -h mynetworks") == "127.0.0.0/8 [::1]/128"


def test_dns_records(cell):
    records = yaml.safe_load(cell.file("/etc/pic/dns/records.d/mailserver.yml").content_string)
    by = {(r["name"], r["type"], r["value"].split(";")[0].split(" ")[0]): r["value"] for r in records}
    assert by[("@", "MX", "10")] == "10 mail"
    assert by[("@", "TXT", "v=spf1")] == "v=spf1 mx -all"
    assert by[("mail._domainkey", "TXT", "v=DKIM1")].startswith("v=DKIM1; k=rsa; p=MII")
    assert by[("_dmarc", "TXT", "v=DMARC1")].startswith("v=DMARC1; p=quarantine")
    # The published key is the key opendkim signs with.
    pub = cell.check_output("openssl rsa -in /etc/dkimkeys/mail.private -pubout -outform DER | base64 -w0")
    assert by[("mail._domainkey", "TXT", "v=DKIM1")].endswith("p=" + pub)


# ---- the real client -----------------------------------------------------------------------
def test_submission_imap_and_dkim(lab, cell_ip, client_trusts_cell_root):
    ca = client_trusts_cell_root
    token = "pic-" + uuid.uuid4().hex[:12]
    sent = submit(lab, cell_ip, ca, "alice", PASSWORDS["alice"], f"bob@{DOMAIN}", token)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "STARTTLS" in sent.stdout
    assert "235 2.7.0 Authentication successful" in sent.stdout
    assert "250 2.0.0 Ok: queued" in sent.stdout

    got = imap_fetch(lab, cell_ip, ca, "bob", PASSWORDS["bob"], token)
    assert got["login"] == "ok"
    # The handshake checked the chain (cell root only) and the name; the certificate is the cell's.
    assert MAIL_NAME in got["peer_names"]
    message = got["message"]
    assert message, "the message did not reach bob's INBOX"
    assert f"Subject: {token}" in message
    assert "DKIM-Signature:" in message
    assert f"d={DOMAIN}" in message and "s=mail" in message
    # Delivered by LMTP from Postfix to Dovecot.
    assert "with LMTP" in message

    # dkimpy verifies the signature against the key published in the records for DNS.
    records = lab.exec(
        "cell",
        [
            "python3",
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            "/etc/pic/dns/records.d/mailserver.yml",
        ],
    )
    if records.returncode != 0:  # no python3-yaml on the cell: parse on the controller instead
        records_json = json.dumps(
            yaml.safe_load(
                lab.exec("cell", ["cat", "/etc/pic/dns/records.d/mailserver.yml"], check=True).stdout
            )
        )
    else:
        records_json = records.stdout
    lab.exec("client", ["sh", "-c", "cat > /tmp/records.json"], input=records_json, check=True)
    lab.exec(
        "client",
        ["sh", "-c", "cat > /tmp/message.eml"],
        input=message.replace("\r\n", "\n").replace("\n", "\r\n"),
        check=True,
    )
    res = lab.exec("client", ["python3", "-c", DKIM_VERIFY, "/tmp/message.eml", "/tmp/records.json", DOMAIN])
    assert res.stdout.strip() == "verified", res.stdout + res.stderr


def test_inbound_smtp_on_25_delivers_to_local_users(lab, cell_ip, client_trusts_cell_root):
    token = "pic-" + uuid.uuid4().hex[:12]
    res = swaks(
        lab,
        "--to",
        f"alice@{DOMAIN}",
        "--from",
        "someone@example.org",
        "--server",
        f"{cell_ip}:25",
        "--header",
        f"Subject: {token}",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    got = imap_fetch(lab, cell_ip, client_trusts_cell_root, "alice", PASSWORDS["alice"], token)
    assert got["message"] and f"Subject: {token}" in got["message"]


def test_no_open_relay_on_25(lab, cell_ip):
    res = swaks(
        lab,
        "--to",
        "victim@example.org",
        "--from",
        "spammer@example.net",
        "--server",
        f"{cell_ip}:25",
        "--quit-after",
        "RCPT",
    )
    assert res.returncode != 0
    assert refused(res.stdout, "554 5.7.1") and "Relay access denied" in res.stdout


def test_unknown_local_recipient_refused(lab, cell_ip):
    res = swaks(
        lab,
        "--to",
        f"nobody@{DOMAIN}",
        "--from",
        "someone@example.org",
        "--server",
        f"{cell_ip}:25",
        "--quit-after",
        "RCPT",
    )
    assert res.returncode != 0
    assert refused(res.stdout, "550")


def test_wrong_password_refused_on_submission(lab, cell_ip, client_trusts_cell_root):
    res = submit(
        lab, cell_ip, client_trusts_cell_root, "alice", "not-the-password", f"bob@{DOMAIN}", "wrong-password"
    )
    assert res.returncode != 0
    assert refused(res.stdout, "535")


def test_wrong_password_refused_on_imap(lab, cell_ip, client_trusts_cell_root):
    got = imap_fetch(lab, cell_ip, client_trusts_cell_root, "bob", "not-the-password")
    assert got["login"].startswith("refused")


def test_no_auth_before_starttls(lab, cell_ip):
    res = swaks(
        lab,
        "--to",
        f"bob@{DOMAIN}",
        "--from",
        f"alice@{DOMAIN}",
        "--server",
        f"{cell_ip}:587",
        "--auth",
        "PLAIN",
        "--auth-user",
        f"alice@{DOMAIN}",
        "--auth-password",
        PASSWORDS["alice"],
    )
    assert res.returncode != 0
    assert "235 " not in res.stdout
    # Without TLS the server does not even offer AUTH.
    ehlo = swaks(lab, "--server", f"{cell_ip}:587", "--quit-after", "EHLO", "--to", f"bob@{DOMAIN}")
    assert "250-STARTTLS" in ehlo.stdout
    assert "AUTH" not in ehlo.stdout


def test_submission_refuses_a_forged_sender(lab, cell_ip, client_trusts_cell_root):
    res = submit(
        lab,
        cell_ip,
        client_trusts_cell_root,
        "alice",
        PASSWORDS["alice"],
        f"bob@{DOMAIN}",
        "forged",
        sender=f"bob@{DOMAIN}",
    )
    assert res.returncode != 0
    assert refused(res.stdout, "553") and "not owned by user" in res.stdout


def test_submission_relays_for_authenticated_users_only(lab, cell_ip, client_trusts_cell_root):
    # Authenticated: a recipient in an outside domain is accepted (the session ends before DATA,
    # so nothing is queued for a domain the lab cannot reach).
    token = "pic-" + uuid.uuid4().hex[:12]
    res = submit(
        lab,
        cell_ip,
        client_trusts_cell_root,
        "alice",
        PASSWORDS["alice"],
        "friend@example.org",
        token,
        extra=("--quit-after", "RCPT"),
    )
    assert res.returncode == 0, res.stdout
    assert "250 2.1.5 Ok" in res.stdout


def test_an_alias_delivers_to_its_person(lab, cell_ip, client_trusts_cell_root):
    token = "pic-" + uuid.uuid4().hex[:12]
    res = swaks(lab, "--to", f"robert@{DOMAIN}", "--from", "someone@example.org", "--server", f"{cell_ip}:25",
                "--header", f"Subject: {token}")
    assert res.returncode == 0, res.stdout + res.stderr
    got = imap_fetch(lab, cell_ip, client_trusts_cell_root, "bob", PASSWORDS["bob"], token)
    assert got["message"] and f"Subject: {token}" in got["message"]
    assert f"To: robert@{DOMAIN}" in got["message"]


def test_a_person_sends_from_their_alias_and_nobody_else_does(lab, cell_ip, client_trusts_cell_root):
    token = "pic-" + uuid.uuid4().hex[:12]
    res = submit(lab, cell_ip, client_trusts_cell_root, "bob", PASSWORDS["bob"], f"alice@{DOMAIN}", token,
                 sender=f"info@{DOMAIN}")
    assert res.returncode == 0, res.stdout
    got = imap_fetch(lab, cell_ip, client_trusts_cell_root, "alice", PASSWORDS["alice"], token)
    assert got["message"] and f"From: info@{DOMAIN}" in got["message"]

    res = submit(lab, cell_ip, client_trusts_cell_root, "alice", PASSWORDS["alice"], f"bob@{DOMAIN}", "not hers",
                 sender=f"info@{DOMAIN}")
    assert res.returncode != 0
    assert refused(res.stdout, "553") and "not owned by user" in res.stdout


# ---- the webmail (Roundcube behind caddy), driven by curl on the client ----------------------
WEBMAIL = f"https://{MAIL_NAME}"
JAR = "/tmp/webmail-cookies"


def webmail(lab, cell_ip, ca, path, *args):
    """One request to Roundcube from the client (its cookies kept in JAR): (HTTP status, body)."""
    res = lab.exec("client", [
        "curl", "-sS", "--max-time", "30", "--cacert", ca, "--resolve", f"{MAIL_NAME}:443:{cell_ip}",
        "-b", JAR, "-c", JAR, "-w", "\n%{http_code}", *args, WEBMAIL + path,
    ])
    assert res.returncode == 0, res.stderr
    body, _, status = res.stdout.rpartition("\n")
    return int(status), body


def webmail_login(lab, cell_ip, ca, user, password):
    """Roundcube's login form as a browser posts it (with the form's token); the status of the POST."""
    lab.exec("client", ["rm", "-f", JAR], check=True)
    status, page = webmail(lab, cell_ip, ca, "/")
    assert status == 200, page[:500]
    token = re.search(r'name="_token" value="([^"]+)"', page)
    assert token, page[:500]
    status, _ = webmail(lab, cell_ip, ca, "/?_task=login", "--data-urlencode", f"_token={token.group(1)}",
                        "-d", "_task=login", "-d", "_action=login", "-d", "_timezone=UTC", "-d", "_url=",
                        "--data-urlencode", f"_user={user}", "--data-urlencode", f"_pass={password}")
    return status


def test_webmail_runs_on_php_fpm_without_apache(cell):
    assert cell.service("php8.2-fpm").is_running
    assert cell.service("php8.2-fpm").is_enabled
    # The lab's image holds apache2 for the webdav role; here nothing runs it, and neither Roundcube
    # nor PHP is in its configuration.
    assert not cell.service("apache2").is_running
    assert not cell.package("libapache2-mod-php8.2").is_installed
    for conf in ("roundcube", "php8.2-fpm"):
        assert not cell.file(f"/etc/apache2/conf-enabled/{conf}.conf").exists, conf
    assert cell.socket("unix:///run/php/php-fpm-roundcube.sock").is_listening


def test_webmail_des_key_is_secret(cell):
    key = cell.file("/etc/roundcube/pic-des-key")
    assert (key.user, key.mode) == ("www-data", 0o600)
    value = cell.check_output("cat /etc/roundcube/pic-des-key")
    assert len(value) == 24
    config = cell.file("/etc/roundcube/config.inc.php")
    assert (config.user, config.group, config.mode) == ("root", "www-data", 0o640)
    assert value not in config.content_string


def test_webmail_database_is_sqlite(cell):
    db = cell.file("/var/lib/dbconfig-common/sqlite3/roundcube/roundcube")
    assert db.is_file and db.user == "www-data"
    assert "users" in cell.check_output("sqlite3 /var/lib/dbconfig-common/sqlite3/roundcube/roundcube .tables")


def test_webmail_refuses_a_wrong_password(lab, cell_ip, client_trusts_cell_root):
    assert webmail_login(lab, cell_ip, client_trusts_cell_root, "alice", "not-the-password") == 401


def test_webmail_reads_a_mail_sent_with_swaks(lab, cell, cell_ip, client_trusts_cell_root):
    ca = client_trusts_cell_root
    token = "pic-" + uuid.uuid4().hex[:12]
    sent = submit(lab, cell_ip, ca, "bob", PASSWORDS["bob"], f"alice@{DOMAIN}", token)
    assert "250 2.0.0 Ok: queued" in sent.stdout, sent.stdout + sent.stderr

    # A login without the domain is alice@<domain>; success sends the browser on to the mail task.
    assert webmail_login(lab, cell_ip, ca, "alice", PASSWORDS["alice"]) == 302
    status, page = webmail(lab, cell_ip, ca, "/?_task=mail&_mbox=INBOX")
    assert status == 200
    request_token = re.search(r'"request_token":"([^"]+)"', page)
    assert request_token, page[:500]
    assert f"alice@{DOMAIN}" in page

    # The message list as the page's script asks for it (delivery may take a moment).
    for _ in range(20):
        status, listing = webmail(lab, cell_ip, ca, "/?_task=mail&_action=list&_mbox=INBOX&_remote=1",
                                  "-H", f"X-Roundcube-Request: {request_token.group(1)}")
        assert status == 200, listing[:500]
        if token in listing:
            break
        time.sleep(1)
    assert token in listing, listing[:1000]
    uid = re.search(r'add_message_row\((\d+),[^\n]*' + token, listing)
    assert uid, listing[:1000]

    # The message itself, its body as Dovecot delivered it.
    status, shown = webmail(lab, cell_ip, ca, f"/?_task=mail&_action=show&_uid={uid.group(1)}&_mbox=INBOX")
    assert status == 200
    assert f"test message {token}" in shown

    # Idle again: php-fpm's on-demand pool lets its workers go; only the master stays.
    deadline = time.time() + 30
    while time.time() < deadline and cell.run("pgrep -f 'php-fpm: pool'").rc == 0:
        time.sleep(1)
    assert cell.run("pgrep -f 'php-fpm: pool'").rc != 0
