"""Import names that cannot collide (issue 11): the folders stay core/ and models/, but they install as the
`ttport` package and its `ttport.models` subpackage. tt-metal's source tree (on PYTHONPATH in its documented
setup) has its own top-level `models`, and ttnn's wheel registers `core` in sys.modules; neither can shadow
these names, in an editable install or a regular one."""

from setuptools import find_packages, setup

FOLDERS = {"ttport": "core", "ttport.models": "models"}

setup(
    packages=[
        name
        for package, folder in FOLDERS.items()
        for name in (package, *(f"{package}.{sub}" for sub in find_packages(folder)))
    ],
    package_dir=FOLDERS,
)
