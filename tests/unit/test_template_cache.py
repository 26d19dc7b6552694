"""plugins/template_cache.py: compiled Jinja templates kept on disk render as freshly compiled ones do,
and nothing is kept that could render differently in a later task or run."""

import importlib.util
import os
import sys
from pathlib import Path

import jinja2
import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from jinja2 import nodes
from jinja2.utils import pass_context

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "template_cache.py"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The module loaded afresh and installed in a new directory; Jinja's own functions back after."""
    monkeypatch.setattr(jinja2.Environment, "compile", jinja2.Environment.compile)
    monkeypatch.setattr(nodes._FilterTestCommon, "as_const", nodes._FilterTestCommon.as_const)
    spec = importlib.util.spec_from_file_location("pic_template_cache_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    directory = tmp_path / "templates"
    assert module.install(str(directory)) == str(directory)
    module.dir = directory
    compiled = []
    jinja_compile = module._jinja_compile

    def counting(self, source, *args):
        compiled.append(source)
        return jinja_compile(self, source, *args)

    monkeypatch.setattr(module, "_jinja_compile", counting)
    module.compiled = compiled
    return module


def kept(cache):
    return sorted(p.name for p in cache.dir.iterdir() if not p.name.startswith("."))


def test_a_template_is_compiled_once_and_then_loaded(cache):
    env = jinja2.Environment()
    assert env.from_string("{{ a }}-{{ b | default('x') }}").render(a=1) == "1-x"
    assert len(kept(cache)) == 1
    assert env.from_string("{{ a }}-{{ b | default('x') }}").render(a=2, b="y") == "2-y"
    # another environment of the same kind (a later task's, a later run's) loads it too
    assert jinja2.Environment().from_string("{{ a }}-{{ b | default('x') }}").render(a=3) == "3-x"
    assert cache.compiled == ["{{ a }}-{{ b | default('x') }}"]


def test_what_a_filter_folded_at_compile_time_is_never_kept(cache):
    calls = []

    def counted(value):
        calls.append(value)
        return f"{value}#{len(calls)}"

    env = jinja2.Environment()
    env.filters["counted"] = counted
    # on constants the compiler calls the filter itself and keeps only its result
    assert env.from_string("{{ 'a' | counted }}").render() == "a#1"
    assert env.from_string("{{ 'a' | counted }}").render() == "a#2"
    assert kept(cache) == [] and len(cache.compiled) == 2
    # on a variable it is called when rendering: that template is kept
    assert env.from_string("{{ v | counted }}").render(v="b") == "b#3"
    assert env.from_string("{{ v | counted }}").render(v="b") == "b#4"
    assert len(kept(cache)) == 1 and len(cache.compiled) == 3


def test_a_filter_that_now_asks_for_the_context_gets_a_new_compile(cache):
    first = jinja2.Environment()
    first.filters["f"] = lambda value: f"plain {value}"
    assert first.from_string("{{ v | f }}").render(v=1) == "plain 1"

    later = jinja2.Environment()
    later.filters["f"] = pass_context(lambda context, value: f"{context['who']} {value}")
    assert later.from_string("{{ v | f }}").render(v=1, who="ctx") == "ctx 1"
    assert len(cache.compiled) == 2
    # and a filter that is gone is an error again, as without the cache
    gone = jinja2.Environment()
    with pytest.raises(jinja2.TemplateAssertionError, match="No filter named 'f'"):
        gone.from_string("{{ v | f }}")


def test_other_syntax_settings_are_another_template(cache):
    plain, other = jinja2.Environment(), jinja2.Environment(variable_start_string="[[", variable_end_string="]]")
    assert plain.from_string("[[ a ]] {{ a }}").render(a=1) == "[[ a ]] 1"
    assert other.from_string("[[ a ]] {{ a }}").render(a=1) == "1 {{ a }}"
    assert len(kept(cache)) == 2


def test_templates_loaded_by_name_are_left_to_jinja(cache):
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ a }}"}))
    assert env.get_template("t").render(a=5) == "5"
    assert kept(cache) == []


def test_a_damaged_file_is_compiled_again(cache):
    env = jinja2.Environment()
    env.from_string("{{ a }}")
    (path,) = cache.dir.iterdir()
    path.write_bytes(b"\x00not marshal")
    assert env.from_string("{{ a }}").render(a=7) == "7"
    assert len(cache.compiled) == 2


def test_ansibles_templates_render_the_same_through_the_cache(cache):
    variables = {"names": ["b", "a"], "port": 53, "on": True, "ports": "{{ [port, port + 1] }}"}
    sources = ["{{ names | sort | join(',') }}:{{ port | int + 1 }}:{{ 'yes' if on is sameas true else 'no' }}",
               "{{ names | length }}", "{{ ports | map('string') | list }}", "{{ {'a': port} }}"]
    templar = Templar(loader=DataLoader(), variables=variables)
    fresh = [templar.template(s) for s in sources]
    assert fresh[0] == "a,b:54:yes" and fresh[3] == {"a": 53}
    assert [templar.template(s) for s in sources] == fresh  # loaded, with the same types
    assert all(cache.compiled.count(s) == 1 for s in sources)
    cache._directory = None  # without the cache
    assert [Templar(loader=DataLoader(), variables=variables).template(s) for s in sources] == fresh


def test_a_directory_others_can_write_to_is_not_used(tmp_path, cache):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    assert cache.install(str(shared)) is None
    assert cache._directory is None
    assert jinja2.Environment().from_string("{{ 1 }}").render() == "1"
    assert list(shared.iterdir()) == []


def test_off_turns_it_off(monkeypatch, cache):
    monkeypatch.setenv("PIC_TEMPLATE_CACHE", "off")
    assert cache.install() is None


def test_a_full_directory_is_emptied(cache, monkeypatch):
    monkeypatch.setattr(cache, "MAX_FILES", 2)
    env = jinja2.Environment()
    for n in range(3):
        env.from_string("{{ a }}" + str(n))
    assert len(kept(cache)) == 3
    cache.install(str(cache.dir))
    assert kept(cache) == []


def test_the_strategy_installs_it_once(tmp_path, monkeypatch):
    import ansible_mitogen.planner  # the strategy wraps a function of it too

    monkeypatch.setattr(ansible_mitogen.planner, "_load_collections", ansible_mitogen.planner._load_collections)
    monkeypatch.setattr(jinja2.Environment, "compile", jinja2.Environment.compile)
    monkeypatch.setattr(nodes._FilterTestCommon, "as_const", nodes._FilterTestCommon.as_const)
    monkeypatch.delitem(sys.modules, "pic_template_cache", raising=False)
    monkeypatch.setenv("PIC_TEMPLATE_CACHE", str(tmp_path / "t"))
    jinja_compile = jinja2.Environment.compile
    for name in ("pic_strategy_a", "pic_strategy_b"):  # Ansible may load a strategy's file twice
        spec = importlib.util.spec_from_file_location(name, PLUGIN.parent / "strategy" / "mitogen_linear.py")
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        assert jinja2.Environment.compile is sys.modules["pic_template_cache"]._compile
        assert jinja2.Environment.compile.jinja_own is jinja_compile
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o700
    assert jinja2.Environment().from_string("{{ x }}").render(x=1) == "1"
    assert len(list((tmp_path / "t").iterdir())) == 1
