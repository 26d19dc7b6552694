"""Before setup :8081 carries the wizard; the setup's converge switches it to the page that leads to
HTTPS. Runs last (file order): it converges the cell as it was before setup, then back.

The switch happens inside the very run whose event stream the wizard watches: caddy's reload ends
that stream, and the wizard's next request meets the redirect (webui/src/pages/Setup.tsx shows the
HTTPS step then)."""

import threading
import time

import pytest


def curl(lab, args):
    return lab.exec("client", ["curl", "-sS", "--max-time", "10", *args])


@pytest.fixture(scope="module")
def before_setup(converge):
    """The cell converged as before setup; converged back at the end unless the last test's own
    converge already did (then a second one would only repeat a converge that changes nothing)."""
    res = converge({"pic_setup_completed": False})
    assert res.returncode == 0, res.stdout[-3000:]
    state = {"set_up_again": False}
    yield state
    if not state["set_up_again"]:
        res = converge()
        assert res.returncode == 0, res.stdout[-3000:]


def test_ui_port_serves_the_wizard_and_spa_fallback(lab, host_ip, before_setup):
    base = f"http://{host_ip['cell']}:8081"
    assert "PIC test UI" in curl(lab, [f"{base}/"]).stdout
    assert "pic test asset" in curl(lab, [f"{base}/assets/app.js"]).stdout
    # A client-side route of the SPA gets index.html.
    assert "PIC test UI" in curl(lab, [f"{base}/peers/phone"]).stdout
    # The root certificate is offered for download.
    assert "BEGIN CERTIFICATE" in curl(lab, [f"{base}/ca.crt"]).stdout


def test_ui_port_proxies_health_and_api(lab, host_ip, before_setup):
    base = f"http://{host_ip['cell']}:8081"
    assert curl(lab, [f"{base}/health"]).stdout.startswith("api GET /health")
    assert curl(lab, ["-X", "POST", f"{base}/api/setup"]).stdout.startswith("api POST /api/setup")


def test_a_client_cannot_claim_https_over_plain_http(lab, host_ip, before_setup):
    res = curl(lab, ["-H", "X-Forwarded-Proto: https", f"http://{host_ip['cell']}:8081/api/x"])
    assert res.stdout.startswith("api GET /api/x") and "proto=http\n" in res.stdout + "\n", res.stdout


def test_sse_streams_through_the_proxy(lab, host_ip, before_setup):
    # The upstream sends one event, then waits 6 s: within 3 s the client must already have it.
    res = lab.exec("client", ["curl", "-sS", "-N", "--max-time", "3", f"http://{host_ip['cell']}:8081/api/stream"])
    assert "data: first" in res.stdout, (res.returncode, res.stdout, res.stderr)
    assert "data: second" not in res.stdout


def test_the_switch_ends_the_wizards_stream_and_leads_its_next_request_to_https(lab, host_ip, before_setup,
                                                                                converge):
    """What the wizard meets while its setup run reloads caddy: the open event stream ends (no hang,
    no error page), and the next request to the API on :8081 is a redirect to the HTTPS page."""
    base = f"http://{host_ip['cell']}:8081"
    ended = []
    stream = threading.Thread(target=lambda: ended.append(lab.exec(
        "client", ["curl", "-sS", "-N", "--max-time", "500", f"{base}/api/follow"])))
    stream.start()
    time.sleep(3)
    started = time.monotonic()
    res = converge()  # the set-up cell: caddy reloads with the HTTPS-only :8081
    assert res.returncode == 0, res.stdout[-3000:]
    before_setup["set_up_again"] = True
    stream.join(30)
    assert ended, "the event stream did not end when caddy reloaded"
    # It ended cleanly (curl's exit 0, not its time limit), while the converge ran.
    assert ended[0].returncode == 0, (ended[0].returncode, ended[0].stderr)
    events = [line for line in ended[0].stdout.splitlines() if line.startswith("data: ")]
    assert 3 <= len(events) < 3 + time.monotonic() - started + 5, len(events)
    res = curl(lab, ["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"{base}/api/runs/1/events"])
    assert res.stdout == f"302 {base}/trust"
