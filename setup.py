"""Package discovery for our layout; everything else is in pyproject.toml.

Our top-level folders install under the ``cti`` namespace (``sip/`` imports as ``cti.sip``), so
that site-packages never gets packages named ``sip``, ``config``, ``routing``, ... (all taken on
PyPI). Every folder below them is found here, data folders included (as namespace packages, which
is how setuptools wants package data in sub-folders declared): nobody keeps a list by hand, and a
new package cannot be left out of a real install.
"""

from setuptools import Extension, find_namespace_packages, setup

FOLDERS = {
    "cti": "cti",
    "cti.sip": "sip",
    "cti.routing": "routing",
    "cti.storage": "storage",
    "cti.metrics": "metrics",
    "cti.config": "config",
}


def _packages() -> list[str]:
    found = []
    for name, folder in FOLDERS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in
                  find_namespace_packages(folder, exclude=["*__pycache__*", "__pycache__"])]
    return found


# The RTP core in C (sip/media/_core.c; sip/media/core.py picks it): optional, so that an install
# without a compiler still works, on the Python core.
RTP_CORE = Extension("cti.sip.media._core", ["sip/media/_core.c"], optional=True,
                     extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                         "-Wno-missing-field-initializers"])

setup(package_dir=FOLDERS, packages=_packages(), ext_modules=[RTP_CORE])
