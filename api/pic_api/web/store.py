"""The service store (its settings, the index, install, upgrade, remove) and the container manager."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..core.validators import ValidationError, check_count
from ..managers.errors import InvalidInput
from .common import cell, flag_query, json_body, query_flag
from .openapi import doc
from .settings import PREVIEW_QUERY, PREVIEWABLE, preview_flag, preview_started

store_bp = Blueprint("store", __name__, url_prefix="/api/store")
APP = {"app": {"$ref": "#/$defs/Label"}}
LOG_LINES_MAX = 5000
# @doc of an app's install or removal that may be previewed: ?preview=1 answers 202 StorePlanned
PLANNED: dict[str, Any] = {202: "StorePlanned"}


def planned(run: Any, plan: dict[str, Any]) -> tuple[Any, int]:
    """The answer to an install or removal sent with ?preview=1: the engine's plan and the check-mode run
    of the state it changes (null when it changes none)."""
    return jsonify(run_id=run.id if run is not None else None, preview=True, plan=plan), 202


@store_bp.get("")
@doc("The store: on or off, its index, the apps of the index and the installed ones", "StoreOverview")
def store_get() -> Any:
    return jsonify(cell().store.overview())


@store_bp.put("")
@doc("Turn the store on or off or choose its index; converges the store role", "RunId", 202,
     body=schema.STORE_SETTINGS, **PREVIEWABLE)
def store_put() -> Any:
    if preview_flag():
        return preview_started(cell().store.update(json_body(), preview=True))
    return jsonify(run_id=cell().store.update(json_body()).id), 202


@store_bp.post("/apps")
@doc("Install an app of the index (its newest version unless one is given): a run that pulls, starts, waits "
     "for health, records it and converges its route. ?preview=1: what it would do (image, ports, memory and "
     "whether it fits, data found) and the check-mode run of its route, nothing pulled or started", "RunId", 202,
     body=schema.STORE_INSTALL, errors=(404, 409), query=PREVIEW_QUERY, also=PLANNED)
def store_install() -> Any:
    if preview_flag():
        return planned(*cell().store.preview_install(json_body()))
    return jsonify(run_id=cell().store.install(json_body()).id), 202


@store_bp.post("/apps/<app>/upgrade")
@doc("Upgrade an app (its newest version unless one is given); its data is snapshotted first and a version "
     "that does not come up healthy is rolled back", "RunId", 202, body=schema.STORE_UPGRADE, params=APP,
     errors=(404, 409))
def store_upgrade(app: str) -> Any:
    return jsonify(run_id=cell().store.upgrade(app, json_body()).id), 202


@store_bp.post("/apps/<app>/repair")
@doc("Install an app again over its kept data and secrets (after a restore it did not come back in, or when its "
     "container is broken or gone): the image it ran is pulled and its container made anew", "RunId", 202,
     params=APP, errors=(404, 409))
def store_repair(app: str) -> Any:
    return jsonify(run_id=cell().store.repair(app).id), 202


@store_bp.delete("/apps/<app>")
@doc("Remove an app: its container and route; its data stays unless ?purge=1. ?preview=1: what it would "
     "remove and keep, and the check-mode run of the state without it, nothing removed", "RunId", 202,
     params=APP, query={**flag_query("purge"), **PREVIEW_QUERY}, also=PLANNED, errors=(404,))
def store_remove(app: str) -> Any:
    if preview_flag():
        return planned(*cell().store.preview_remove(app, query_flag("purge")))
    return jsonify(run_id=cell().store.remove(app, query_flag("purge")).id), 202


containers_bp = Blueprint("containers", __name__, url_prefix="/api/containers")
NAME = {"name": {"$ref": "#/$defs/ContainerName"}}


@containers_bp.get("")
@doc("Every container of the store's engine (state, image, ports, uptime) and its volumes with their sizes",
     "Containers")
def containers_list() -> Any:
    return jsonify(cell().store.containers())


@containers_bp.post("/<name>/<action>")
@doc("Start, stop or restart a container", "ContainerState", params={**NAME, "action": {"$ref":
     "#/$defs/ContainerAction"}}, errors=(404, 409))
def containers_action(name: str, action: str) -> Any:
    return jsonify(cell().store.container_action(name, action))


@containers_bp.get("/<name>/logs")
@doc("A container's last log lines", "ContainerLogs", params=NAME,
     query={"lines": {"type": "integer", "minimum": 1, "maximum": LOG_LINES_MAX}}, errors=(404, 409))
def containers_logs(name: str) -> Any:
    try:
        lines = check_count(request.args.get("lines", "200"), 1, LOG_LINES_MAX, "lines")
    except ValidationError as exc:
        raise InvalidInput(str(exc), {"lines": str(exc)}) from None
    return jsonify(cell().store.logs(name, lines))


@containers_bp.get("/<name>/inspect")
@doc("The engine's view of a container (environment values masked)", "ContainerInspect", params=NAME,
     errors=(404, 409))
def containers_inspect(name: str) -> Any:
    return jsonify(cell().store.inspect(name))


@containers_bp.post("/images")
@doc("Pull an image (registry/name:tag or @sha256:...): a run with the pull's progress", "RunId", 202,
     body=schema.IMAGE_PULL, errors=(409,))
def containers_pull() -> Any:
    return jsonify(run_id=cell().store.pull(json_body()).id), 202
