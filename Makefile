# medocr: set-up, demo and tests. Every target installs what it is missing first, so a fresh
# Debian machine (as root, or with sudo) needs nothing but `make` and Python 3.11+.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medocr-installed
# Debian packages medocr needs at run time: Tesseract with its English model, and the fonts the
# examples and the dataset generator draw with (printed, then handwriting). The handwriting fonts
# fonts-sjfonts, fonts-kristi, fonts-rufscript and fonts-ecolier-court are reserved for
# independent evaluation (DESIGN.md) and must never be added here.
PRINTED_FONTS := fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-terminus-otb \
	fonts-inconsolata fonts-hack fonts-open-sans fonts-roboto fonts-lato fonts-crosextra-carlito \
	fonts-crosextra-caladea fonts-go fonts-noto-mono fonts-cantarell fonts-3270 \
	fonts-jetbrains-mono fonts-croscore
HANDWRITING_FONTS := fonts-dkg-handwriting fonts-breip fonts-bwht fonts-dancingscript \
	fonts-femkeklaver fonts-humor-sans fonts-comic-neue fonts-kaushanscript fonts-tomsontalks \
	fonts-klee fonts-leckerli-one fonts-nanum-extra fonts-tlwg-purisa-ttf fonts-kiloji fonts-seto
# dcmtk: storescu/echoscu, to send to `medocr serve` (its end-to-end test uses storescu).
DEBIAN_PACKAGES := tesseract-ocr tesseract-ocr-eng dcmtk $(PRINTED_FONTS) $(HANDWRITING_FONTS)

.PHONY: setup system-deps demo test lint bench examples clean fonts

system-deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "medocr: installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

setup: system-deps $(STAMP)

demo: setup
	$(BIN)/medocr classify examples
	$(BIN)/medocr scrub examples out/examples --overwrite

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check medocr_cli tests benchmarks examples
	$(BIN)/ruff format --check medocr_cli tests benchmarks examples

examples: setup
	$(BIN)/python examples/make_examples.py

bench: setup
	$(BIN)/python benchmarks/bench_scrub.py

# The extra handwriting families generate-dataset trains on: npm @fontsource packages (Google
# Fonts, OFL) at pinned versions, converted to TrueType into $$MEDOCR_FONT_CACHE (default
# ~/.cache/medocr/fonts). Needs npm and the npm registry; scrub, classify and extract never do.
fonts: $(STAMP)
	@command -v npm >/dev/null 2>&1 || { \
	  echo "medocr: installing Debian package: npm"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends npm; }
	$(BIN)/python -m medocr_cli.synth.fonts.fetch

clean:
	rm -rf out .pytest_cache .ruff_cache
