"""Ansible's linear strategy run by mitogen (the `mitogen` package): each host keeps one Python
interpreter for the whole run and runs every task's module in it, instead of copying and starting a
new interpreter per task. ansible.cfg names it; this file only makes the strategy findable without
the site-packages path of whichever virtualenv runs Ansible (the controller's, the cell's)."""

import ansible_mitogen.loaders
import ansible_mitogen.strategy

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    pass
