"""Compiled Jinja templates kept on disk, for the project's strategy (plugins/strategy/mitogen_linear.py).

Ansible compiles a template string (a task's argument, a `when`, a role default, a template file)
each time it renders it, and it renders in the worker process it forks for each task, so nothing
compiled survives the task: a no-op converge of the site compiled about 1,800 strings, 611 of them
different, and compiling took about a fifth of the workers' CPU (docs/architecture.md, "A converge
that changes nothing"). Here each compiled string is kept as a file named by a hash of the string
and of everything Jinja's compiler reads from its environment, so a later task, or a later run, loads
it instead.

What keeps a loaded template the same as a compiled one:
- The compiler folds a filter or test on constants into its result (`{{ 59 | random }}` becomes a
  number). Such a template is never kept: it is compiled again each time, as without the cache.
- The compiled code passes each filter and test the context, the environment or nothing, as the
  filter asks. The kept file lists what each of its filters and tests asked for; if a filter now asks
  for something else (or is gone), the template is compiled again and the file replaced.
- The hash covers the Python, Jinja and Ansible versions and the environment's syntax settings.

The cache is code that Ansible runs, as root on a cell: its directory must belong to the user that
runs Ansible and be closed to everybody else (0700), or the cache is not used. PIC_TEMPLATE_CACHE
names another directory, or `off` turns it off.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import threading

import jinja2
from ansible.release import __version__ as ansible_version
from jinja2 import nodes
from jinja2.utils import _PassArg

FORMAT = 1
# More files than a few runs of every role make: a directory past it is emptied and filled again.
MAX_FILES = 20000

_directory: str | None = None
_folding = threading.local()  # the compile in progress: whether it folded a filter or a test

# Jinja's own functions (this file loaded a second time must not wrap the first one's wrappers).
_jinja_compile = getattr(jinja2.Environment.compile, "jinja_own", jinja2.Environment.compile)
_jinja_as_const = getattr(nodes._FilterTestCommon.as_const, "jinja_own", nodes._FilterTestCommon.as_const)


def default_directory() -> str | None:
    chosen = os.environ.get("PIC_TEMPLATE_CACHE")
    if chosen == "off":
        return None
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pic", "templates")


def usable(directory: str) -> bool:
    """Create the directory (0700) if it is missing; True when it is ours and nobody else's."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o077


def install(directory: str | None = None) -> str | None:
    """Compile Jinja templates through the cache in this process and the workers it forks. Returns
    the directory used, or None when there is none that is safe to use."""
    global _directory
    directory = directory or default_directory()
    if not directory or not usable(directory):
        _directory = None
        return None
    try:
        with os.scandir(directory) as entries:
            files = [e.path for e in entries]
        if len(files) > MAX_FILES:
            for path in files:
                os.unlink(path)
    except OSError:
        return None
    _directory = directory
    jinja2.Environment.compile = _compile
    nodes._FilterTestCommon.as_const = _as_const
    return directory


def _as_const(self, eval_ctx=None):
    value = _jinja_as_const(self, eval_ctx)  # raises Impossible when it cannot fold
    _folding.folded = True
    return value


_as_const.jinja_own = _jinja_as_const


def _key(env: jinja2.Environment, source: str) -> str | None:
    if callable(env.autoescape):  # decided per template name: not worth keeping
        return None
    finalize = _PassArg.from_obj(env.finalize) if env.finalize is not None else "none"
    settings = (
        FORMAT, sys.version, jinja2.__version__, ansible_version,
        type(env).__module__, type(env).__qualname__,
        env.code_generator_class.__module__, env.code_generator_class.__qualname__,
        env.block_start_string, env.block_end_string, env.variable_start_string, env.variable_end_string,
        env.comment_start_string, env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
        env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline,
        tuple(sorted(env.extensions)), env.optimized, env.is_async, env.sandboxed, env.autoescape, str(finalize),
    )
    return hashlib.sha256(repr((settings, source)).encode("utf-8", "surrogatepass")).hexdigest()


def _asks_for(env: jinja2.Environment, kind: str, name: str) -> str:
    """What the compiler reads of a filter or test: whether it is there and what it is passed."""
    try:
        func = (env.filters if kind == "filter" else env.tests).get(name)
    except Exception:  # noqa: BLE001 - a plugin that fails to load: compile as without the cache
        return "error"
    if func is None:
        return "missing"
    passed = _PassArg.from_obj(func)
    return passed.name if passed else "value"


def _dependencies(env: jinja2.Environment, source: str) -> tuple[tuple[str, str, str], ...]:
    tree = env.parse(source)
    found = {("filter", n.name) for n in tree.find_all(nodes.Filter)}
    found |= {("test", n.name) for n in tree.find_all(nodes.Test)}
    return tuple(sorted((kind, name, _asks_for(env, kind, name)) for kind, name in found))


def _load(env: jinja2.Environment, path: str):
    try:
        with open(path, "rb") as f:
            code, dependencies = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if any(_asks_for(env, kind, name) != asked for kind, name, asked in dependencies):
        return None
    return code


def _store(path: str, code, dependencies) -> None:
    try:
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".new-")
        with os.fdopen(fd, "wb") as f:
            marshal.dump((code, dependencies), f)
        os.replace(temp, path)  # whole or not at all, also with workers writing the same file
    except OSError:
        pass


def _compile(self, source, name=None, filename=None, raw=False, defer_init=False):
    directory = _directory
    key = None
    if directory and isinstance(source, str) and name is None and filename is None and not raw and not defer_init:
        key = _key(self, source)
    if key is None:
        return _jinja_compile(self, source, name, filename, raw, defer_init)
    path = os.path.join(directory, key)
    code = _load(self, path)
    if code is not None:
        return code
    outer = getattr(_folding, "folded", False)  # a filter folded by a compile this one runs inside
    _folding.folded = False
    try:
        code = _jinja_compile(self, source)
        folded = _folding.folded
    finally:
        _folding.folded = outer or _folding.folded
    if not folded:
        _store(path, code, _dependencies(self, source))
    return code


_compile.jinja_own = _jinja_compile
