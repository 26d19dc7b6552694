"""The common role on a fresh lab host: packages, account, directories, time zone, upgrades."""


def test_base_packages_installed(host):
    for pkg in ("tzdata", "unattended-upgrades", "nftables", "python3-apt"):
        assert host.package(pkg).is_installed, pkg


def test_pic_account_is_a_system_account(host):
    user = host.user("pic")
    assert user.exists
    assert user.uid < 1000
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == "pic"


def test_pic_directories_are_private(host):
    # /etc/pic: the API (group pic) writes its own files there, sticky so never root's
    for path, mode in (("/etc/pic", 0o1770), ("/var/lib/pic", 0o750)):
        d = host.file(path)
        assert d.is_directory
        assert d.user == "root" and d.group == "pic"
        assert d.mode == mode, oct(d.mode)


def test_time_zone_is_set(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Berlin"
    assert host.file("/etc/timezone").content_string.strip() == "Europe/Berlin"
    # The C library agrees: the zone's abbreviation is CET or CEST, not UTC.
    assert host.run("date +%Z").stdout.strip() in ("CET", "CEST")


def test_security_updates_enabled(host):
    conf = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1";' in conf
    res = host.run("apt-config dump APT::Periodic::Unattended-Upgrade")
    assert '"1"' in res.stdout
