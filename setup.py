"""Install vosbench: ``pip install -e .`` (add ``-c requirements/constraints.txt``
to get the tested versions)."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(fname: str) -> list:
    """Read a requirements file, skipping comments, blank lines and ``-r``."""
    with open(osp.join(osp.dirname(__file__), 'requirements', fname)) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line and not line.startswith('-')]


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(osp.dirname(__file__), 'vosbench', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='vosbench',
    version=read_version(),
    description='Semi-supervised video object segmentation toolbox '
    '(Space-Time Memory networks) in the OpenMMLab style',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(
        tests=read_requirements('tests.txt'),
        optional=read_requirements('optional.txt'),
    ),
    zip_safe=False,
)
