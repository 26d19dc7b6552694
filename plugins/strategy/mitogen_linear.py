"""Ansible's linear strategy run by mitogen (the `mitogen` package): each host keeps one Python
interpreter for the whole run and runs every task's module in it, instead of copying and starting a
new interpreter per task. ansible.cfg names it; this file makes the strategy findable without the
site-packages path of whichever virtualenv runs Ansible (the controller's, the cell's). It also does
once per run, in its own process, what each task's worker did again: mitogen's list of the installed
collections and the loading of the filter and test plugins (below); and it keeps each compiled Jinja
template for the next task and the next run (plugins/template_cache.py)."""

import importlib.util
import sys
from pathlib import Path

import ansible.collections.list
import ansible_mitogen.loaders
import ansible_mitogen.planner
import ansible_mitogen.strategy
from ansible.plugins.loader import filter_loader, test_loader

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


def _install_template_cache():
    """plugins/template_cache.py, loaded by its path (plugins/ is no package of any virtualenv) and
    installed once per process, however often this file is loaded."""
    if "pic_template_cache" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "pic_template_cache", Path(__file__).resolve().parent.parent / "template_cache.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.install()


# In the strategy's process, before it forks the first task's worker: the workers inherit it.
_install_template_cache()

# mitogen's planner adds the folder of every installed collection to a module's import path whenever
# it runs a module from a collection (community.crypto, ansible.posix). It made that list in the
# worker process Ansible forks for each task, so it was made again for every such task: about 0.5 s
# each (the full `ansible` package holds about a hundred collections, each with metadata to parse),
# 16 times in a no-op converge of the site. It is made once here, in the strategy's own process,
# before the first worker that needs it is forked; the workers inherit it.
_collection_dirs = None
# mitogen's own function (this file loaded a second time must not wrap the first one's wrapper)
_list_in_worker = getattr(
    ansible_mitogen.planner._load_collections, "mitogen_own", ansible_mitogen.planner._load_collections
)


def _load_collections(invocation):
    if _collection_dirs is None:
        _list_in_worker(invocation)
    else:
        invocation._extra_sys_paths.update(_collection_dirs)


_load_collections.mitogen_own = _list_in_worker
ansible_mitogen.planner._load_collections = _load_collections


def list_collections_for(action):
    """Before a task's worker is forked: list the collections once if its module comes from one."""
    global _collection_dirs
    if _collection_dirs is None:
        path = ansible_mitogen.loaders.module_loader.find_plugin(action, "")
        if path and "ansible_collections" in path:
            _collection_dirs = tuple(d.decode("utf-8") for d in ansible.collections.list.list_collection_dirs())


def load_jinja_plugins():
    """Before a task's worker is forked: the filters and tests of Ansible's and the project's plugin
    folders loaded in the strategy's process. Ansible's loader lists and imports those folders the
    first time a template names a filter, so each worker did that again (about 2 ms of CPU each,
    0.5-1 s in a no-op site converge); forked after it, they find it done. (Loading a role with
    plugins of its own empties the list, and the next task's call makes it again.)"""
    for loader in (filter_loader, test_loader):
        if not loader._cached_non_collection_wrappers:
            loader._ensure_non_collection_wrappers()


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    def _queue_task(self, host, task, task_vars, play_context):
        list_collections_for(task.action)
        load_jinja_plugins()
        return super()._queue_task(host, task, task_vars, play_context)
