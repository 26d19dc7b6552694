"""Managers: the API's behaviour, with no Flask import (each testable alone)."""
