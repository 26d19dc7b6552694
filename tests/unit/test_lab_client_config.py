"""How a lab client host turns a peer's config into one it can bring up (pic_lab.cell)."""

from pic_lab.cell import client_wg_config

CONFIG = """[Interface]
PrivateKey = aaa=
Address = 10.0.0.2/32
DNS = 10.0.0.1, home.cell

[Peer]
PublicKey = bbb=
Endpoint = 10.213.40.2:51820
AllowedIPs = 10.0.0.0/24, 10.213.40.0/24
"""


def test_dns_line_is_returned_and_left_out():
    config, dns = client_wg_config(CONFIG, "10.213.40.0/24")
    assert dns == "10.0.0.1"
    assert "DNS" not in config


def test_the_labs_lan_stays_off_the_tunnel():
    config, _ = client_wg_config(CONFIG, "10.213.40.0/24")
    assert "AllowedIPs = 10.0.0.0/24\n" in config
    assert "PrivateKey = aaa=" in config and config.endswith("\n")
