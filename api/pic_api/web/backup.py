"""Backups: the settings (the state's backup section), the archives, a backup or a check now, a
restore (the whole cell or one service's data) and the passphrase to save away from the cell. The
work is the agent's (managers/backup.py); runs are queued with the converges and followed like them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..managers.auth import BadCredentials
from ..managers.errors import InvalidInput, NotFound, checked
from .common import cell, json_body, session
from .gate import access
from .openapi import doc
from .runs import MAX_EVENT_SEQ, event_stream

backup_bp = Blueprint("backup", __name__, url_prefix="/api/backup")
# Under /api/setup: open before setup, when a fresh cell is restored instead of set up.
setup_restore_bp = Blueprint("setup_restore", __name__, url_prefix="/api/setup/restore")


@backup_bp.get("")
@doc("The backup settings, the repository, the last backup and the last check (status is null, with "
     "status_error saying why, when the agent cannot answer)", "BackupView")
def backup_get() -> Any:
    return jsonify(cell().backups.view())


@backup_bp.put("")
@doc("Change the repository, schedule or retention (or key_confirmed); converges the backup role",
     "RunId", 202, body=schema.BACKUP)
def backup_put() -> Any:
    run = cell().backup.update(json_body())
    return jsonify(run_id=run.id), 202


@backup_bp.get("/archives")
@doc("The archives in the repository, oldest first, with their time and sizes", "BackupArchives", errors=(409,))
def backup_archives() -> Any:
    return jsonify(archives=cell().backups.archives())


@backup_bp.post("/runs")
@doc("Back the cell up now: a run (kind backup) whose pic_step events say what it does", "RunStarted", 202,
     errors=(409,))
def backup_create() -> Any:
    run = cell().backups.create()
    return jsonify(run_id=run.id, run=run.to_dict()), 202


@backup_bp.post("/check")
@doc("borg check of the repository and its archives: a run (kind check); its outcome is the status's check",
     "RunStarted", 202, errors=(409,))
def backup_check() -> Any:
    run = cell().backups.check()
    return jsonify(run_id=run.id, run=run.to_dict()), 202


@backup_bp.post("/restore")
@doc("Restore from an archive of the cell's repository: the whole cell (state, secrets, a converge, the "
     "data), or with data one service's data, its services stopped meanwhile. A run (kind restore)",
     "RunStarted", 202, body=schema.BACKUP_RESTORE, errors=(409,))
def backup_restore() -> Any:
    run = cell().backups.restore(json_body())
    return jsonify(run_id=run.id, run=run.to_dict()), 202


@backup_bp.post("/key")
@doc("The passphrase, borg's key export and the ssh public key, for an admin who types their password "
     "again; never logged, never stored in the state or a run", "BackupKey", body=schema.BACKUP_KEY,
     errors=(409, 429))
def backup_key() -> Any:
    body = checked(schema.BACKUP_KEY, json_body())
    c, sess = cell(), session()
    try:
        c.auth.authenticate(sess.user, body["password"], request.remote_addr or "")
    except BadCredentials:  # a 400 naming the field: the session stays (a 401 would log the admin out)
        raise InvalidInput("the password is wrong", {"password": "wrong password"}) from None
    return jsonify(c.backups.key())


@backup_bp.post("/key/confirm")
@doc("The admin saved the passphrase away from the cell: the UI's warning ends (no role reads it)", "RunId", 202)
def backup_key_confirm() -> Any:
    run = cell().backup.confirm_key()
    return jsonify(run_id=run.id), 202


@setup_restore_bp.post("")
@access("public")
@doc("The wizard's \"restore from a backup\" on a cell not set up yet (needs the setup code): a run (kind "
     "restore) of the whole cell from the old cell's repository; a wrong passphrase ends it failed with "
     "nothing changed. Follow it with the token at /api/setup/restore/{run_id}/events",
     "RestoreStarted", 202, body=schema.SETUP_RESTORE, errors=(403, 409, 429))
def setup_restore() -> Any:
    c = cell()
    run, token = c.backups.restore_fresh(json_body(), lambda body: c.setup.check_code(body, request.remote_addr or ""))
    return jsonify(run_id=run.id, token=token, run=run.to_dict()), 202


@setup_restore_bp.get("/<run_id>/events")
@access("public")
@doc("The wizard's restore run as server-sent events (as /api/runs/{run_id}/events), for the token it was given",
     "RunEvent", query={"token": {"type": "string"}, "after": {"type": "integer", "minimum": 0,
                                                               "maximum": MAX_EVENT_SEQ}},
     errors=(404,), media="text/event-stream")
def setup_restore_events(run_id: str) -> Any:
    if not cell().backups.follows(run_id, request.args.get("token", "")):
        raise NotFound(f"no restore run {run_id!r} for this token")
    return event_stream(run_id)

