#!/usr/bin/env bash
# What tests/browser needs, on a fresh Debian machine (idempotent, quick when up to date):
# Debian's Chromium, plus JupyterLab 4, Notebook 7 and the Python Playwright client in .venv.
# No `playwright install`: it downloads its own browsers, which this network refuses;
# the tests launch /usr/bin/chromium instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x /usr/bin/chromium ]; then
    # apt-get update only when something must be installed: it is the slow part
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi

if [ ! -x .venv/bin/python ]; then
    bash scripts/bootstrap.sh
fi
if ! .venv/bin/python -c "import jupyterlab, playwright, ipywidgets, jupyterlab_widgets, notebook
assert int(notebook.__version__.split('.')[0]) >= 7" 2>/dev/null; then
    # ipywidgets pulls jupyterlab_widgets: the widget manager, prebuilt, served offline
    # (Notebook 7 is built on Lab's plugins and uses the same one)
    .venv/bin/python -m pip install -q "jupyterlab>=4,<5" "notebook>=7,<8" "playwright>=1.40" \
        "ipywidgets>=8.1"
fi

/usr/bin/chromium --version
.venv/bin/python -c "import jupyterlab, jupyterlab_widgets, notebook; \
print('jupyterlab', jupyterlab.__version__, '/ notebook', notebook.__version__, \
      '/ jupyterlab_widgets', jupyterlab_widgets.__version__)"
