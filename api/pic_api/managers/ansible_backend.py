"""The backend that really runs a converge: ansible-runner on site.yml (in the agent, as root)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import roles
from .runs import Run


class AnsibleRunnerBackend:
    """Runs site.yml with ansible-runner (in the agent, as root).

    Its files go to a private directory removed after the run: no raw stdout file (ansible-runner
    2.4 honours ``suppress_output_file`` only from its settings), no raw event files (the handler
    returns False); the partial event files ansible's callback writes while a task runs are removed
    with the directory, and a directory a killed run left behind is removed when the agent starts
    (``agent.server.clear_work_dir``). Only scrubbed events leave it."""

    def __init__(
        self,
        project_dir: Path,
        playbook: str,
        inventory: str,
        skip_tags: str = "",
        work_dir: Path | None = None,
    ):
        self.project_dir = Path(project_dir)
        self.playbook = playbook
        self.inventory = inventory
        self.skip_tags = skip_tags
        self.work_dir = work_dir

    def execute(self, run: Run, emit: Callable[[dict[str, Any]], None], should_cancel: Callable[[], bool]) -> str:
        import ansible_runner

        if self.work_dir is not None:
            Path(self.work_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(prefix=f"pic-run-{run.id}-", dir=self.work_dir))
        try:
            attribute = StepAttribution(roles.site_roles(self.project_dir))

            def on_event(event: dict[str, Any]) -> bool:
                emit(attribute(event))
                return False  # do not write the raw event to the artifacts directory

            cmdline = "--check --diff" if run.check else None
            kwargs: dict[str, Any] = {
                "private_data_dir": str(private),
                "project_dir": str(self.project_dir),
                "playbook": self.playbook,
                "inventory": self.inventory,
                "event_handler": on_event,
                "cancel_callback": should_cancel,
                "quiet": True,
                "suppress_output_file": True,
                "settings": {"suppress_output_file": True, "suppress_ansible_output": True},
                "ident": "run",
                "envvars": {"ANSIBLE_CONFIG": str(self.project_dir / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
            }
            if run.tags:
                kwargs["tags"] = ",".join(run.tags)
            if self.skip_tags:
                kwargs["skip_tags"] = self.skip_tags
            if cmdline:
                kwargs["cmdline"] = cmdline
            if run.extravars:
                kwargs["extravars"] = run.extravars
            thread, runner = ansible_runner.run_async(**kwargs)
            thread.join()
            status = runner.status
            return {"successful": "successful", "canceled": "canceled"}.get(status, "failed")
        finally:
            shutil.rmtree(private, ignore_errors=True)


class StepAttribution:
    """A run's events in order, each task of a role outside site.yml (the shared steps a role
    imports: roles/shared, roles/sandbox) shown as a task of the role that imports it, so the UI's
    progress by role never lists a step as a role of its own."""

    def __init__(self, site_roles: tuple[str, ...]):
        self.site_roles = frozenset(site_roles)
        self.current: str | None = None

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        data = event.get("event_data")
        role = data.get("role") if isinstance(data, dict) else None
        if role in self.site_roles:
            self.current = role
        elif role and self.current:
            event = {**event, "event_data": {**data, "role": self.current}}
        return event
