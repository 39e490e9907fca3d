"""DVT in Jupyter/IPython: `%load_ext dvt_jupyter`, then `%dvt run`, `%%dvt_model`, ...

Loading registers the magics only: no project is read, no database or Spark is touched
until the first command needs it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_MAGICS: Any = None


def load_ipython_extension(ipython: Any) -> None:
    global _MAGICS
    from dvt_jupyter.magics import DvtMagics

    if _MAGICS is not None:  # %reload_ext: drop the old instance and its session first
        _MAGICS.close()
    _MAGICS = DvtMagics(ipython)
    ipython.register_magics(_MAGICS)


def unload_ipython_extension(ipython: Any) -> None:
    global _MAGICS
    if _MAGICS is not None:
        _MAGICS.close()
        _MAGICS = None
