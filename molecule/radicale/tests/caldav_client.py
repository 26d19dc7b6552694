"""CalDAV client run on the client lab host (python of the caldav venv), driven by test_radicale.py.

  caldav_client.py roundtrip BASE USER PASSWORD   make a calendar and an event, read them back
  caldav_client.py status BASE USER PASSWORD PATH  PROPFIND PATH, print the HTTP status
  caldav_client.py login BASE USER PASSWORD        find the principal, or print the error

Prints one JSON object. Extra CA: $CALDAV_CA (a file) when BASE is https.
"""

import json
import os
import sys
import uuid

import caldav


def client(base, user, password):
    return caldav.DAVClient(
        url=base, username=user, password=password, ssl_verify_cert=os.environ.get("CALDAV_CA", True)
    )


def roundtrip(base, user, password):
    uid = f"{uuid.uuid4()}@pic-test"
    with client(base, user, password) as c:
        principal = c.principal()
        for old in principal.calendars():
            if str(old.url).rstrip("/").endswith("/work"):
                old.delete()
        cal = principal.make_calendar(name="Work", cal_id="work")
        cal.save_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PIC//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260101T090000Z\r\nDTSTART:20260105T090000Z\r\n"
            "DTEND:20260105T100000Z\r\nSUMMARY:Planning meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        url = str(cal.url)
    # A fresh session: what the server stored, not what the client remembers.
    with client(base, user, password) as c:
        cal = c.calendar(url=url)
        names = [x.get_display_name() for x in c.principal().calendars()]
        event = cal.event_by_uid(uid)
        summary = str(event.icalendar_component["summary"])
    return {"calendar_url": url, "calendars": names, "uid": uid, "summary": summary}


def status(base, user, password, path):
    """The server's answer to PROPFIND PATH; caldav raises on 401, reported as its status."""
    with client(base, user, password) as c:
        try:
            res = c.request(base.rstrip("/") + path, "PROPFIND", "", {"Depth": "1"})
        except caldav.lib.error.AuthorizationError as e:
            codes = {"Unauthorized": 401, "Forbidden": 403}
            return {"status": codes.get(e.reason, e.reason), "error": type(e).__name__}
        return {"status": res.status}


def login(base, user, password):
    """What a calendar app does first: find the principal. Reports the error a bad login gives."""
    with client(base, user, password) as c:
        try:
            return {"principal": str(c.principal().url)}
        except caldav.lib.error.DAVError as e:
            return {"error": type(e).__name__, "reason": str(e.reason)}


if __name__ == "__main__":
    action, *args = sys.argv[1:]
    print(json.dumps({"roundtrip": roundtrip, "status": status, "login": login}[action](*args)))
