import pytest

from pic_api.core import validators as v
from pic_api.core.validators import ValidationError


@pytest.mark.parametrize("name", ["a", "home", "my-cell", "cell2", "a" * 32, "x1-y2"])
def test_label_accepts(name):
    assert v.check_label(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Home",
        "1cell",
        "-cell",
        "cell-",
        "my_cell",
        "my cell",
        "a" * 33,
        "cell\n",
        "cell;rm",
        "c{{x}}",
        "café",
        " cell",
        None,
        5,
        ["a"],
    ],
)
def test_label_refuses(name):
    with pytest.raises(ValidationError):
        v.check_label(name)


def test_label_message_names_the_field():
    assert "peer name" in v.error_of(v.check_label, "Bad", "peer name")
    assert v.error_of(v.check_label, "good") is None


@pytest.mark.parametrize("domain", ["example.org", "home.cell", "a.b.c.example.com", "x-1.example.org"])
def test_domain_accepts(domain):
    assert v.check_domain(domain) == domain


def test_domain_strips_trailing_dot():
    assert v.check_domain("example.org.") == "example.org"


@pytest.mark.parametrize(
    "domain",
    [
        "example",
        "Example.org",
        "-a.org",
        "a-.org",
        "a..org",
        "exa mple.org",
        "a.123",
        "a" * 64 + ".org",
        ("a" * 60 + ".") * 5 + "org",
        "ex$ample.org",
        "example.org\nx",
        "",
        3,
    ],
)
def test_domain_refuses(domain):
    with pytest.raises(ValidationError):
        v.check_domain(domain)


@pytest.mark.parametrize("addr", ["10.0.0.1", "192.168.50.1", "0.0.0.0", "255.255.255.255"])
def test_ipv4_accepts(addr):
    assert v.check_ipv4(addr) == addr


@pytest.mark.parametrize("addr", ["10.0.0", "10.0.0.256", "010.0.0.1", "::1", "10.0.0.1/24", "a.b.c.d", "", 1])
def test_ipv4_refuses(addr):
    with pytest.raises(ValidationError):
        v.check_ipv4(addr)


@pytest.mark.parametrize("cidr", ["10.0.0.0/24", "192.168.0.0/16", "10.0.0.0/8", "10.0.0.0/30"])
def test_cidr_accepts(cidr):
    assert v.check_ipv4_cidr(cidr) == cidr


def test_cidr_host_bits_suggests_network():
    with pytest.raises(ValidationError, match="10.0.0.0/24"):
        v.check_ipv4_cidr("10.0.0.5/24")


@pytest.mark.parametrize(
    "cidr", ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/31", "0.0.0.0/0", "10.0.0.0/24\n", "fd00::/64", "x/24"]
)
def test_cidr_refuses(cidr):
    with pytest.raises(ValidationError):
        v.check_ipv4_cidr(cidr)


@pytest.mark.parametrize("port,expected", [(1, 1), (51820, 51820), (65535, 65535), ("53", 53)])
def test_port_accepts(port, expected):
    assert v.check_port(port) == expected


@pytest.mark.parametrize("port", [0, 65536, -1, True, "abc", "80 ", 1.5, None, "123456"])
def test_port_refuses(port):
    with pytest.raises(ValidationError):
        v.check_port(port)


def test_wg_key_accepts_real_key():
    key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
    assert v.check_wg_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "abc",
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg",
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D==",
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n",
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D!=",
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=x",
        None,
    ],
)
def test_wg_key_refuses(key):
    with pytest.raises(ValidationError):
        v.check_wg_key(key)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Etc/UTC", "UTC", "America/Argentina/Buenos_Aires"])
def test_timezone_accepts(tz):
    assert v.check_timezone(tz) == tz


@pytest.mark.parametrize("tz", ["Mars/Olympus", "../etc/passwd", "Europe/Berlin\n", "", "Europe/Ber lin", "/etc"])
def test_timezone_refuses(tz):
    with pytest.raises(ValidationError):
        v.check_timezone(tz)


@pytest.mark.parametrize("text", ["hello", "My Phone 2", "a-b_c.d"])
def test_safe_text_accepts(text):
    assert v.check_safe_text(text) == text


@pytest.mark.parametrize("text", ["a;b", "a|b", "$(x)", "`x`", "{{ x }}", "{% x %}", "a\nb", "a\rb", "<x>", "a\x01"])
def test_safe_text_refuses_metacharacters(text):
    with pytest.raises(ValidationError, match="not allowed|line breaks"):
        v.check_safe_text(text)


def test_safe_text_max_length():
    with pytest.raises(ValidationError, match="at most 5"):
        v.check_safe_text("abcdef", "x", 5)


@pytest.mark.parametrize("iface", ["eth0", "enp3s0", "wg0", "br-lan", "eth0.10"])
def test_interface_accepts(iface):
    assert v.check_interface(iface) == iface


@pytest.mark.parametrize("iface", ["", "a" * 16, "eth0;", "-eth0", "eth 0"])
def test_interface_refuses(iface):
    with pytest.raises(ValidationError):
        v.check_interface(iface)


@pytest.mark.parametrize("lease,out", [("12h", "12h"), ("30m", "30m"), ("infinite", "infinite"), (3600, "3600")])
def test_lease_time_accepts(lease, out):
    assert v.check_lease_time(lease) == out


@pytest.mark.parametrize("lease", ["12x", "0", "-1h", "h", "", "12h;"])
def test_lease_time_refuses(lease):
    with pytest.raises(ValidationError):
        v.check_lease_time(lease)


def test_password_rules():
    assert v.check_password("correct horse") == "correct horse"
    assert v.check_password("p;$`'\"{{}}") == "p;$`'\"{{}}"  # hashed, never templated
    assert v.check_password("x" * 72) == "x" * 72
    for bad in ("short", "x" * 73, "é" * 37, "new\nline1", None):
        with pytest.raises(ValidationError):
            v.check_password(bad)


def test_host_accepts_domain_or_ip_and_refuses_else():
    assert v.check_host("pool.ntp.org") == "pool.ntp.org"
    assert v.check_host("192.0.2.1") == "192.0.2.1"
    with pytest.raises(ValidationError, match="IPv4"):
        v.check_host("300.1.1.1")
    for bad in ("bad host", "x", "a;b.org"):
        with pytest.raises(ValidationError, match="domain name or an IPv4"):
            v.check_host(bad)


def test_choice_and_bool():
    assert v.check_choice("split", ("split", "full")) == "split"
    with pytest.raises(ValidationError, match="split, full"):
        v.check_choice("half", ("split", "full"), "route")
    assert v.check_bool(False) is False
    with pytest.raises(ValidationError):
        v.check_bool("yes")


@pytest.mark.parametrize("lease,out", [("2m", "2m"), ("120", "120"), (120, "120"), ("12h", "12h"), ("365d", "365d"),
                                       ("52w", "52w"), ("infinite", "infinite"), ("525600m", "525600m")])
def test_lease_time_accepts_from_2m_to_365d(lease, out):
    assert v.check_lease_time(lease) == out


@pytest.mark.parametrize(
    "lease",
    ["1m", "119", 119, "119s", "366d", "53w", "525601m", "9999999m", "31536001", "12x", "0", "", "-1h", 1.5, True]
)
def test_lease_time_refuses_out_of_bounds(lease):
    with pytest.raises(ValidationError):
        v.check_lease_time(lease)


def test_lease_time_says_its_bounds():
    with pytest.raises(ValidationError, match="2m to 365d"):
        v.check_lease_time("1m")


@pytest.mark.parametrize("lease,seconds", [("90", 90), ("2m", 120), ("12h", 43200), ("1d", 86400), ("2w", 1209600),
                                           ("infinite", None), ("x", None)])
def test_lease_seconds(lease, seconds):
    assert v.lease_seconds(lease) == seconds
