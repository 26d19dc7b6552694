"""`make test-fast` picks the molecule scenarios a change can affect (tests/run_molecule.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import run_molecule  # noqa: E402


def test_a_role_change_runs_the_scenarios_that_converge_that_role():
    touched = run_molecule.touched_scenarios(["roles/mailserver/tasks/enabled.yml"])
    assert touched == ["mailserver"]
    # The ca role is converged by its own scenario and by those that need the cell's certificate.
    ca = run_molecule.touched_scenarios(["roles/ca/defaults/main.yml"])
    assert {"ca", "mailserver"} <= set(ca) and "dnsmasq" not in ca
    assert "caddy-acme" in run_molecule.touched_scenarios(["roles/caddy/templates/Caddyfile.j2"])
    # exits converges wireguard before itself (wg0 carries the devices and tor's address)
    assert run_molecule.touched_scenarios(["roles/exits/tasks/tor.yml"]) == ["exits"]
    assert {"wireguard", "exits"} <= set(run_molecule.touched_scenarios(["roles/wireguard/tasks/main.yml"]))


def test_a_scenario_change_runs_that_scenario_and_the_api_runs_the_api_scenario():
    assert run_molecule.touched_scenarios(["molecule/webdav/tests/test_webdav.py", "README.md"]) == ["webdav"]
    # the api scenario, and backup's, which converges the api role (its `pic` is the backup program)
    assert run_molecule.touched_scenarios(["api/pic_api/web/routes.py"]) == ["api", "backup"]


def test_a_shared_part_runs_every_scenario():
    for f in ("molecule/shared/create.yml", "tests/lab/pic_lab/image.py", "filter_plugins/pic.py",
              "roles/sandbox/tasks/unit.yml"):
        assert run_molecule.touched_scenarios([f]) == run_molecule.all_scenarios()
    assert len(run_molecule.all_scenarios()) >= 13


def test_docs_and_the_web_ui_run_no_scenario():
    assert run_molecule.touched_scenarios(["docs/testing.md", "webui/src/pages/Setup.tsx"]) == []
