"""The project's strategy plugin (plugins/strategy/mitogen_linear.py): mitogen's linear strategy,
with the list of installed collections made once per run in the strategy's process."""

import importlib.util
import warnings
from pathlib import Path
from types import SimpleNamespace

import ansible.collections.list
import ansible_mitogen.planner
import pytest
from ansible.plugins.loader import init_plugin_loader

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "strategy" / "mitogen_linear.py"


def load(name):
    spec = importlib.util.spec_from_file_location(name, PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def strategy(monkeypatch):
    with warnings.catch_warnings():  # a second call only warns that it was made before
        warnings.simplefilter("ignore")
        init_plugin_loader()  # as ansible-playbook does: collections become findable
    # loading the plugin replaces mitogen's function; put it back after the test
    mitogen_own = ansible_mitogen.planner._load_collections
    monkeypatch.setattr(ansible_mitogen.planner, "_load_collections", mitogen_own)
    monkeypatch.setenv("PIC_TEMPLATE_CACHE", "off")  # tests/unit/test_template_cache.py tests that part
    module = load("pic_strategy_mitogen_linear")
    listed = []

    def list_collection_dirs():
        listed.append(True)
        return iter([b"/c/ansible_collections/community/crypto", b"/c/ansible_collections/ansible/posix"])

    monkeypatch.setattr(ansible.collections.list, "list_collection_dirs", list_collection_dirs)
    monkeypatch.setattr(module, "_list_in_worker", lambda inv: inv._extra_sys_paths.add("listed in the worker"))
    module.listed = listed
    module.mitogen_own = mitogen_own
    return module


def invocation():
    return SimpleNamespace(_extra_sys_paths=set())


def test_a_builtin_module_lists_no_collections(strategy):
    strategy.list_collections_for("ansible.builtin.template")
    assert strategy.listed == [] and strategy._collection_dirs is None


def test_a_collections_module_lists_them_once_before_its_worker(strategy):
    strategy.list_collections_for("community.crypto.x509_certificate")
    strategy.list_collections_for("ansible.posix.sysctl")
    assert strategy.listed == [True]
    # what mitogen's planner calls in the worker: the list made before, not a new one
    inv = invocation()
    strategy.ansible_mitogen.planner._load_collections(inv)
    assert inv._extra_sys_paths == {"/c/ansible_collections/community/crypto", "/c/ansible_collections/ansible/posix"}
    assert strategy.listed == [True]


def test_without_the_list_the_worker_makes_it_as_before(strategy):
    inv = invocation()
    strategy.ansible_mitogen.planner._load_collections(inv)
    assert inv._extra_sys_paths == {"listed in the worker"}


def test_loaded_twice_it_still_wraps_mitogens_own_function(strategy):
    again = load("pic_strategy_mitogen_linear_again")
    assert again._list_in_worker is strategy.mitogen_own
