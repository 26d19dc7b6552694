"""The store role's engine on a lab cell behind the cell's firewall: an image built on the LAN host
and pushed to its local registry is pulled by digest through podman's Docker-compatible socket with
the Docker SDK, runs with its port on 127.0.0.1 only, and nothing from the LAN reaches it but an
app's declared opening."""

import json
import textwrap

import pytest
import yaml

SOCKET = "/run/podman/podman.sock"


@pytest.fixture(scope="module")
def index(lab):
    return yaml.safe_load(lab.exec("registry", ["cat", "/srv/store/index.yml"], check=True).stdout)


@pytest.fixture(scope="module")
def hello(index):
    return next(a for a in index["apps"] if a["version"] == "1.0.0")


def sdk(lab, code):
    """Runs Python with the Docker SDK on the cell, against podman's socket; returns its JSON output."""
    script = f"import docker, json\nc = docker.DockerClient(base_url='unix://{SOCKET}')\n" + textwrap.dedent(code)
    res = lab.exec("cell", ["python3", "-c", script])
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def probe(lab, host, url):
    res = lab.exec(host, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "4", url])
    return res.stdout.strip() if res.returncode == 0 else f"error {res.returncode}"


def test_engine_answers_on_its_socket(cell):
    assert cell.service("podman.socket").is_enabled
    assert cell.run(f"curl -sf --unix-socket {SOCKET} http://d/_ping").stdout == "OK"
    version = json.loads(cell.check_output(f"curl -sf --unix-socket {SOCKET} http://d/version"))
    assert version["ApiVersion"] >= "1.40", version


def test_lab_settings_are_the_labs_only(cell):
    # store_lab_engine is set by this scenario; a real host gets neither file from the role.
    assert 'driver = "vfs"' in cell.file("/etc/containers/storage.conf").content_string
    assert 'cgroups = "disabled"' in cell.file("/etc/containers/containers.conf").content_string
    assert cell.file("/etc/pic/store.yml").mode == 0o640
    config = yaml.safe_load(cell.file("/etc/pic/store.yml").content_string)
    assert config["limits"] is False and config["apps_dir"] == "/var/lib/pic/store/apps"


@pytest.fixture(scope="module")
def app(lab, hello):
    out = sdk(lab, f"""
        image = c.images.pull({hello['image']!r})
        ct = c.containers.run({hello['image']!r}, name="molecule-hello", detach=True,
                              ports={{"8000/tcp": ("127.0.0.1", 8000)}}, environment={{"APP_VERSION": "1.0.0"}})
        import time
        for _ in range(50):
            ct.reload()
            if ct.status == "running":
                break
            time.sleep(0.2)
        print(json.dumps({{"digests": image.attrs["RepoDigests"], "status": ct.status,
                           "ip": ct.attrs["NetworkSettings"]["IPAddress"], "ports": ct.ports}}))
    """)
    yield out
    sdk(lab, 'c.containers.get("molecule-hello").remove(force=True); print("{}")')


def test_the_image_is_pulled_by_its_digest(app, hello):
    assert hello["image"] in app["digests"]
    assert app["status"] == "running"


def test_published_port_binds_to_loopback_only(lab, cell, app):
    assert app["ports"]["8000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "8000"}]
    assert cell.run("curl -sf --retry 10 --retry-delay 1 --retry-all-errors http://127.0.0.1:8000/").stdout == (
        "hello 1.0.0\n"
    )
    assert all(":8000 " not in line or "127.0.0.1:8000" in line
               for line in cell.check_output("ss -Hltn").splitlines())


def test_the_lan_reaches_neither_the_port_nor_the_container(lab, app, host_ip):
    # The container answers on its own address from the cell itself ...
    assert probe(lab, "cell", f"http://{app['ip']}:8000/health") == "200"
    # ... but not from the LAN: not on the cell's address, not routed to the container network.
    assert probe(lab, "registry", f"http://{host_ip['cell']}:8000/") != "200"
    lab.exec("registry", ["ip", "route", "replace", "10.88.0.0/16", "via", host_ip["cell"]], check=True)
    try:
        assert probe(lab, "registry", f"http://{app['ip']}:8000/health") == "error 28"  # dropped: a timeout
    finally:
        lab.exec("registry", ["ip", "route", "del", "10.88.0.0/16"])


def test_only_an_apps_opening_reaches_it_from_the_lan(lab, hello, host_ip):
    # Both publish on every address, where the engine adds its own DNAT rules; only 8001 is an opening.
    sdk(lab, f"""
        for port in (8001, 8002):
            c.containers.run({hello['image']!r}, name=f"molecule-open-{{port}}", detach=True,
                             ports={{f"{{port}}/tcp": port}}, command=["/bin/httpd", "-f", "-p", str(port), "-h", "/"])
        print("{{}}")
    """)
    try:
        assert probe(lab, "cell", "http://127.0.0.1:8002/bin/") in ("403", "404")  # it does answer
        assert probe(lab, "registry", f"http://{host_ip['cell']}:8001/bin/") in ("403", "404")
        assert probe(lab, "registry", f"http://{host_ip['cell']}:8002/bin/") == "error 28"
    finally:
        sdk(lab, 'for p in (8001, 8002): c.containers.get(f"molecule-open-{p}").remove(force=True)\nprint("{}")')


def test_a_wrong_digest_is_refused(lab, hello):
    wrong = hello["image"].rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    out = sdk(lab, f"""
        try:
            c.images.pull({wrong!r})
            print(json.dumps({{"pulled": True}}))
        except docker.errors.APIError as exc:
            print(json.dumps({{"pulled": False, "error": str(exc)}}))
    """)
    assert out["pulled"] is False, out


def test_store_off_stops_the_engine(cell, converge):
    res = converge({"pic_store_enabled": False})
    assert res.returncode == 0, res.stdout[-3000:]
    assert not cell.service("podman.socket").is_running
    res = converge()
    assert res.returncode == 0, res.stdout[-3000:]
    assert cell.service("podman.socket").is_running
