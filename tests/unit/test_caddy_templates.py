"""The caddy role's Caddyfile rendered with Jinja: what :8081 serves before and after setup, the
HTTPS site on the LAN address, HSTS on every HTTPS site. (caddy validate checks the syntax in the
caddy scenario; curl there checks the behaviour.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pytest

ROLE = Path(__file__).resolve().parents[2] / "roles" / "caddy"
LAN = "192.168.50.1"


def render(**overrides) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    env.filters["bool"] = lambda v: v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
    ctx = {
        "ansible_managed": "Managed by PIC",
        "caddy_setup_completed": True,
        "caddy_domain_mode": "internal",
        "caddy_domain": "home.cell",
        "caddy_cert_stat": {"stat": {"exists": True, "checksum": "0" * 64}},
        "caddy_lan_address": LAN,
        "caddy_hsts": "max-age=31536000",
        "caddy_services": ["calendar", "files", "mail"],
        "caddy_admin_address": "localhost:2019",
        "caddy_api_upstream": "127.0.0.1:3000",
        "caddy_radicale_upstream": "127.0.0.1:5232",
        "caddy_webdav_upstream": "127.0.0.1:8080",
        "caddy_webmail_enabled": True,
        "caddy_webmail_root": "/var/lib/roundcube/public_html",
        "caddy_webmail_socket": "/run/php/php-fpm-roundcube.sock",
        "caddy_webui_root": "/var/www/pic",
        "caddy_extra_directives": [],
        "caddy_tls_cert": "/etc/pic/tls/cell.crt",
        "caddy_tls_key": "/etc/pic/tls/cell.key",
        "caddy_ui_port": 8081,
        "caddy_peer_sync_port": 8082,
        "caddy_trust_path": "/trust",
        "caddy_acme_ca": "https://acme.example.test/dir",
        "caddy_acme_ca_root": "",
        "caddy_acme_email": "",
        "caddy_acme_challenge": "http",
        # the service store's apps: one by name with the cell's login, one at a path of the cell's site
        "caddy_app_routes": [{"app": "hello", "host": "hello", "port": 8000, "login": True},
                             {"app": "notes", "path": "/notes", "port": 8001, "login": False}],
        "caddy_app_logins_file": "/etc/caddy/pic-app-logins",
        "caddy_links": [],
    }
    ctx.update(overrides)
    return env.get_template("Caddyfile.j2").render(ctx)


def sites(text: str) -> dict[str, str]:
    """The top-level blocks of a Caddyfile by their address (snippets and the global block included)."""
    out, name, body = {}, None, []
    for line in text.splitlines():
        if name is None:
            m = re.match(r"^(\S.*?) \{$", line)
            if m:
                name, body = m.group(1), []
            elif line == "{":
                name, body = "global", []
        elif line == "}":
            out[name] = "\n".join(body)
            name = None
        else:
            body.append(line)
    return out


def test_before_setup_the_ui_port_carries_the_wizard_and_its_api():
    ui = sites(render(caddy_setup_completed=False))["http://:8081"]
    assert "import pic_ui" in ui  # the UI's files and /api/* to the API


def test_after_setup_the_ui_port_serves_no_api_and_leads_to_https():
    ui = sites(render())["http://:8081"]
    assert "pic_ui" not in ui and "reverse_proxy" not in ui
    assert "redir * /trust 302" in ui
    assert "@files path /assets/* /favicon.svg /ca.crt" in ui
    body = re.search(r"respond `(.*)` 200", ui).group(1)
    assert json.loads(body) == {"domain": "home.cell", "https": ["https://home.cell/", f"https://{LAN}/"]}


def test_the_setup_state_from_the_inventory_is_a_string_too():
    # An inventory or -e may give "true"/"false" strings: the role takes them as booleans.
    assert "pic_ui" not in sites(render(caddy_setup_completed="true"))["http://:8081"]
    assert "import pic_ui" in sites(render(caddy_setup_completed="false"))["http://:8081"]


def test_the_lan_address_has_an_https_site_with_the_internal_leaf():
    site = sites(render())[f"https://{LAN}"]
    assert "import pic_leaf" in site and "import pic_ui" in site and "import pic_hsts" in site
    assert "tls /etc/pic/tls/cell.crt /etc/pic/tls/cell.key" in sites(render())["(pic_leaf)"]


@pytest.mark.parametrize("setup_completed", [True, False])
def test_every_https_site_sends_hsts(setup_completed):
    blocks = sites(render(caddy_setup_completed=setup_completed))
    https = [name for name in blocks if not name.startswith(("global", "http://", "("))]
    assert sorted(https) == sorted(["home.cell", f"https://{LAN}", "calendar.home.cell", "files.home.cell",
                                    "mail.home.cell", "hello.home.cell"])
    for name in https:
        assert "import pic_hsts" in blocks[name], name
    # Deferred: it replaces whatever an upstream (the API) sent, so a response has exactly one.
    hsts = blocks["(pic_hsts)"]
    assert 'Strict-Transport-Security "max-age=31536000"' in hsts and "defer" in hsts
    assert "pic_hsts" not in blocks["http://:8081"]  # browsers ignore it over plain HTTP anyway


def test_the_mail_site_is_roundcube_on_php_fpm():
    site = sites(render())["mail.home.cell"]
    assert "root * /var/lib/roundcube/public_html" in site
    assert "php_fastcgi unix//run/php/php-fpm-roundcube.sock" in site
    assert "file_server" in site and "redir" not in site
    # Without the mail service there is no webmail site.
    assert "mail.home.cell" not in sites(render(caddy_services=["calendar", "files"]))
    # Without the webmail role (caddy_webmail_enabled false) the name leads to the UI's Email page.
    site = sites(render(caddy_webmail_enabled=False))["mail.home.cell"]
    assert "redir https://home.cell/email 302" in site and "php_fastcgi" not in site


def test_acme_mode_keeps_the_lan_site_on_the_internal_leaf():
    blocks = sites(render(caddy_domain_mode="custom", caddy_domain="home.example.org"))
    assert "issuer acme" in blocks["(pic_tls)"] and "pic_leaf" not in blocks["(pic_tls)"]
    assert "import pic_leaf" in blocks[f"https://{LAN}"]


def test_without_the_internal_leaf_there_is_no_lan_site():
    # ACME mode on a host where the ca role has not run: nothing refers to a missing certificate.
    text = render(caddy_domain_mode="custom", caddy_domain="home.example.org",
                  caddy_cert_stat={"stat": {"exists": False}})
    assert f"https://{LAN}" not in sites(text) and "/etc/pic/tls" not in text
    body = re.search(r"respond `(.*)` 200", text).group(1)
    assert json.loads(body)["https"] == ["https://home.example.org/"]


def test_without_a_lan_address_there_is_no_lan_site():
    assert not [name for name in sites(render(caddy_lan_address="")) if name.startswith("https://")]


def test_the_ui_sites_reach_webdav_at_dav_with_the_files_service():
    blocks = sites(render())
    ui = blocks["(pic_ui)"]
    dav = ui[ui.index("handle /dav/* {"):]
    assert "uri strip_prefix /dav" in dav and "reverse_proxy 127.0.0.1:8080 {" in dav
    # the target of a MOVE loses the prefix as the request's path does; no browser login dialog
    assert 'header_up Destination "^(https?://[^/]+)/dav/" "$1/"' in dav
    assert "header_down -WWW-Authenticate" in dav
    # before the UI's file server, which would answer any path with index.html
    assert ui.index("handle /dav/*") < ui.index("try_files {path} /index.html")
    for site in ("home.cell", f"https://{LAN}"):
        assert "import pic_ui" in blocks[site]
    assert "/dav" not in sites(render(caddy_services=["calendar", "mail"]))["(pic_ui)"]


def test_peer_sync_comes_only_through_its_own_listener():
    """After setup, :8082 proxies /api/cells/peer-sync/* to the API and nothing else; the UI's sites
    answer 404 there, so the API sees peer-sync only from the listener the firewall opens to links."""
    blocks = sites(render())
    sync = blocks["http://:8082"]
    assert "handle /api/cells/peer-sync/* {\n\t\treverse_proxy 127.0.0.1:3000" in sync
    assert sync.count("reverse_proxy") == 1 and "respond 404" in sync
    ui = blocks["(pic_ui)"]
    assert ui.index("handle /api/cells/peer-sync/*") < ui.index("handle /api/*")
    assert "handle /api/cells/peer-sync/* {\n\t\trespond 404" in ui
    assert "http://:8082" not in sites(render(caddy_setup_completed=False))


# Two linked cells: away is granted the calendar, far the files and the mail (two subnets).
LINKS = [{"cell_id": "0f0f0f0f0f0f0f0f", "name": "away", "subnets": ["10.81.2.0/24"], "grants": ["calendar"]},
         {"cell_id": "0a0a0a0a0a0a0a0a", "name": "far", "subnets": ["10.81.3.0/24", "10.81.4.0/24"],
          "grants": ["files", "mail"]}]
AWAY, FAR = "10.81.2.0/24", "10.81.3.0/24 10.81.4.0/24"


def denied(site: str) -> list[str]:
    """The sources a site answers 403 before anything else (empty: no guard), checking the guard's form:
    the 403 first, the site's own content in the handle after it."""
    lines = site.splitlines()
    matcher = [ln for ln in lines if ln.startswith("\t@pic_link_denied remote_ip ")]
    if not matcher:
        assert "pic_link_denied" not in site and "respond 403" not in site, site
        return []
    (line,) = matcher
    body = site[site.index(line):]
    assert body.index("handle @pic_link_denied {\n\t\trespond 403\n\t}") < body.index("\thandle {\n"), site
    return line.split(" remote_ip ", 1)[1].split()


def test_without_links_no_site_has_a_guard():
    text = render()
    assert "remote_ip" not in text and "respond 403" not in text
    # nor with a link granted everything: every service's site is its, the UI's sites are still not
    blocks = sites(render(caddy_links=[{**LINKS[0], "grants": ["calendar", "files", "mail"]}]))
    for name in ("calendar.home.cell", "files.home.cell", "mail.home.cell"):
        assert denied(blocks[name]) == [], name
    assert denied(blocks["home.cell"]) == [AWAY]


def test_a_linked_cell_reaches_only_the_sites_of_its_granted_services():
    """The firewall opens 443 to a link for calendar or files, and 443 carries every HTTPS site: each
    site answers 403 to the subnets of the links its service is not granted to."""
    blocks = sites(render(caddy_links=LINKS))
    assert denied(blocks["calendar.home.cell"]) == FAR.split()
    assert denied(blocks["files.home.cell"]) == [AWAY]
    assert denied(blocks["mail.home.cell"]) == [AWAY]
    # The UI and its API (on the cell's name and its LAN address) and the store's apps: never granted.
    for name in ("home.cell", f"https://{LAN}", "hello.home.cell"):
        assert sorted(denied(blocks[name])) == sorted(FAR.split() + [AWAY]), name
    # The site's content is all behind the guard; TLS and HSTS stay at the site's level.
    cal = blocks["calendar.home.cell"]
    assert cal.index("respond 403") < cal.index("reverse_proxy 127.0.0.1:5232")
    assert cal.index("import pic_tls") < cal.index("@pic_link_denied")
    main = blocks["home.cell"]
    assert main.index("respond 403") < main.index("redir /notes /notes/ 308") < main.index("import pic_ui")
    assert blocks["hello.home.cell"].index("respond 403") < blocks["hello.home.cell"].index("import /etc/caddy")
    # Without webmail, mail.<domain> (a redirect to the UI) is the mail service's site all the same.
    assert denied(sites(render(caddy_links=LINKS, caddy_webmail_enabled=False))["mail.home.cell"]) == [AWAY]
    # Plain HTTP: the page leading to HTTPS is not reachable from a link (the firewall), peer-sync is the
    # links' own listener.
    assert "remote_ip" not in blocks["http://:8081"] and "remote_ip" not in blocks["http://:8082"]


def test_a_revoked_grant_closes_the_site_to_that_link():
    revoked = [{**LINKS[0], "grants": []}, LINKS[1]]
    blocks = sites(render(caddy_links=revoked))
    assert sorted(denied(blocks["calendar.home.cell"])) == sorted(FAR.split() + [AWAY])


def test_the_caddy_role_reads_the_links_so_a_grants_change_converges_it():
    from pic_api.core import roles

    cell = roles.load(ROLE.parents[1])
    assert "pic_links" in cell.inputs["caddy"]
    assert "caddy" in cell.reading(["pic_links"])
