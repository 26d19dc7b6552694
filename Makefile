# PIC — make targets. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
ARTIFACTS ?= .artifacts
# Molecule scenarios to run (all by default) and how many side by side (measured: docs/testing.md).
SCENARIOS ?= $(sort $(filter-out shared,$(notdir $(wildcard molecule/*))))
MOLECULE_JOBS ?= 4
# End-to-end test files (each with its own lab; GROUPS in tests/e2e/conftest.py) run side by side: they spend most of their time
# waiting on converges and clients, not on the cores (docs/testing.md).
E2E_JOBS ?= 3
# test-fast runs the scenarios of what changed since this ref's merge base.
FAST_BASE ?= main
DEMO_LAB ?= demo
# The cells the management targets reach (status, backup, ...): the group `cells` of this inventory.
INVENTORY ?= inventory/hosts.yml
PIC_ON_CELLS = ansible cells -i $(INVENTORY) --become -m ansible.builtin.command -a

.PHONY: help venv system-deps lint test test-fast test-unit test-ui test-integration molecule molecule-touched lab-image test-e2e webui \
        demo demo-down bench bench-memory lab-clean constraints openapi status logs backup list-peers show-routes reset-admin-password \
        update

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# pip's own chatter (setuptools deprecation notes and the like) goes to a log, shown only on failure.
$(VENV)/.installed: pyproject.toml tests/lab/pyproject.toml constraints.txt
	@echo "venv: installing the pinned Python dependencies into $(VENV) (a minute or two, once; log: $(VENV)/install.log)"
	@python3 -m venv $(VENV)
	@{ $(VENV)/bin/pip install --upgrade pip && $(VENV)/bin/pip install -c constraints.txt -e '.[dev]' -e 'tests/lab[testing]'; } \
	  > $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; echo "venv: pip failed; the whole log: $(VENV)/install.log"; exit 1; }
	@touch $@

venv: $(VENV)/.installed ## create the Python virtualenv with every pinned dependency

system-deps: ## install the Debian packages the lab and the tests need (root)
	bash .ci/system-deps

constraints: ## re-pin constraints.txt from a fresh resolve of pyproject.toml
	rm -rf /tmp/pic-constraints && python3 -m venv /tmp/pic-constraints
	/tmp/pic-constraints/bin/pip install -q '.[dev]' 'tests/lab[testing]'
	(echo "# Pinned versions of every Python dependency (pip install -c constraints.txt). Regenerate with 'make constraints'."; \
	 /tmp/pic-constraints/bin/pip freeze | grep -v '^pic' ) > constraints.txt

lint: venv ## ruff, yamllint, ansible-lint (production profile), playbook syntax
	ruff check .
	yamllint -s .
	ansible-playbook site.yml --syntax-check
	ansible-lint --profile production

test-unit: venv webui ## the fast tests: API, managers, filters, templates; the web UI's Vitest tests
	@mkdir -p $(ARTIFACTS)
	pytest tests/unit -q -n 2 --junitxml=$(ARTIFACTS)/junit-unit.xml
	cd webui && npx vitest run --reporter=default --reporter=junit --outputFile.junit=$(CURDIR)/$(ARTIFACTS)/junit-webui.xml

test-ui: venv webui ## the web UI in Chromium against the real API on loopback (a scripted converge; about a minute)
	@mkdir -p $(ARTIFACTS)
	cd webui && node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
	  --test-reporter=junit --test-reporter-destination=$(CURDIR)/$(ARTIFACTS)/junit-ui.xml e2e/ui.test.mjs

test-integration: venv ## the lab itself and the runner against lab hosts
	@mkdir -p $(ARTIFACTS)
	pytest tests/integration -q --junitxml=$(ARTIFACTS)/junit-integration.xml

molecule: venv ## every role's molecule scenario on lab hosts (SCENARIOS=..., MOLECULE_JOBS=3)
	@mkdir -p $(ARTIFACTS)
	$(PY) tests/run_molecule.py --jobs $(MOLECULE_JOBS) --junit $(ARTIFACTS)/junit-molecule.xml $(SCENARIOS)

molecule-touched: venv ## the molecule scenarios a change since main (FAST_BASE) can affect
	@mkdir -p $(ARTIFACTS)
	$(PY) tests/run_molecule.py --jobs $(MOLECULE_JOBS) --junit $(ARTIFACTS)/junit-molecule.xml \
	  --touched-since $(FAST_BASE)

test-fast: ## a developer's loop: lint, unit, the molecule scenarios of what changed since main
	@$(call stages,lint test-unit lab-image molecule-touched+test-ui)

lab-image: venv ## build the lab's base rootfs and provisioned image now (cached; seconds when warm)
	pic-lab image

test-e2e: venv webui ## the whole cell end to end on lab hosts (E2E_JOBS groups of test files side by side: tests/e2e/conftest.py)
	@mkdir -p $(ARTIFACTS)
	pytest tests/e2e -q -n $(E2E_JOBS) --dist loadgroup --junitxml=$(ARTIFACTS)/junit-e2e.xml

# The scenarios leave the cores idle about a fifth of the time: the browser and integration tests,
# which wait more than they compute, run beside them (docs/testing.md).
test: ## everything: lint, unit, integration, molecule, e2e; then each stage's time and the totals
	@$(call stages,lint test-unit lab-image molecule+test-integration+test-ui test-e2e)

# The stages of a run (tests/stages.sh): each target's wall time and how busy the cores were in
# $(ARTIFACTS)/stages.tsv, then tests/report.py's summary. `a+b` runs a and b side by side.
stages = PY=$(PY) bash tests/stages.sh $(ARTIFACTS) $(1)

openapi: venv ## write the OpenAPI document and the web UI's types and limits from it (webui/src/generated)
	$(PY) -m pic_api.web.generate --write webui/src/generated

# The packages again only when the lock file changed, the build only when an input of it (the webui
# role's webui_build_inputs, read from the role) is newer than dist/index.html: so the stages of
# `make test` that need the UI, side by side too, build it once.
WEBUI_INPUTS = $(shell $(PY) -c 'import yaml; print(*yaml.safe_load(open("roles/webui/defaults/main.yml"))["webui_build_inputs"])')
webui: venv ## build the web UI (webui/dist), when its sources or packages changed
	@cd webui && if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund; fi
	@cd webui && if [ ! -e dist/index.html ] || [ -n "$$(find $(WEBUI_INPUTS) -newer dist/index.html -print -quit 2>/dev/null)" ]; then \
	  npm run build; else echo "webui: dist/ is newer than every input of its build"; fi

# The webui role builds the UI itself on this machine (as it does for any controller with Node.js).
demo: venv ## boot a lab host and converge a whole cell on it, one line per role; prints the URL
	@$(PY) -m pic_lab.demo up --lab $(DEMO_LAB)

demo-down: venv ## remove the demo cell
	$(PY) -m pic_lab.demo down --lab $(DEMO_LAB)

bench: venv webui ## measure converge, peer-add and API latency; writes docs/benchmarks.md
	$(PY) tests/bench/run.py

bench-memory: venv ## the idle cell's memory alone, RSS by unit and process (a cell set up as make bench does)
	$(PY) tests/bench/memory.py up && $(PY) tests/bench/memory.py measure; rc=$$?; $(PY) tests/bench/memory.py down; exit $$rc

lab-clean: venv ## remove every lab on this machine (hosts, bridges, NAT rules, cgroups)
	pic-lab down-all --every-lab

# ---- managing the cells of INVENTORY from this controller: each runs `pic <command>` on every cell ----
status: venv ## setup, state version, services, backups, recent runs of each cell (INVENTORY=...)
	$(PIC_ON_CELLS) "/opt/pic/venv/bin/pic status"

logs: venv ## the last journal entries of a service on each cell (SERVICE=mail, LOG_LINES=100)
	$(PIC_ON_CELLS) "/opt/pic/venv/bin/pic logs $(SERVICE) -n $(or $(LOG_LINES),100)"

backup: venv ## back each cell up now (to the repository its backup settings name)
	$(PIC_ON_CELLS) "/opt/pic/venv/bin/pic backup"

list-peers: venv ## the peers (devices) of each cell
	$(PIC_ON_CELLS) "/opt/pic/venv/bin/pic list-peers"

show-routes: venv ## wg show, the routing rules and tables and the peers' exits of each cell
	$(PIC_ON_CELLS) "/opt/pic/venv/bin/pic show-routes"

reset-admin-password: venv ## a new random admin password on each cell, printed
	$(PIC_ON_CELLS) "/opt/pic/venv/bin/pic reset-admin-password"

update: venv ## after a `git pull` here: converge the cells of INVENTORY with this checkout
	ansible-playbook -i $(INVENTORY) site.yml
