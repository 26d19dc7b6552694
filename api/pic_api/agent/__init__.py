"""The privileged agent: the only part of PIC that runs as root.

The API (user ``pic``) asks it, over a unix socket, for a small set of typed actions with validated
arguments (``protocol.ACTIONS``); nothing free-form crosses the socket. ``server`` is the root side,
``client`` the API's side, ``actions`` what the root side really does.
"""
