"""The package is layered: tools -> apis -> inference -> models ->
registry/utils, with datasets and evaluation beside models. A module-level
import that runs back up fails here unless it is one of the justified
exceptions listed below (each has a comment at the import)."""
import ast
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = osp.join(REPO, 'vosbench')

#: Layer -> the vosbench layers its modules must not import at module
#: level.
FORBIDDEN = {
    'utils': {'models', 'inference', 'apis', 'engine', 'datasets',
              'evaluation', 'visualization'},
    'registry': {'models', 'inference', 'apis', 'engine', 'datasets',
                 'evaluation'},
    'models': {'inference', 'apis', 'engine', 'datasets', 'evaluation'},
    'datasets': {'models', 'inference', 'apis', 'engine', 'evaluation'},
    # evaluation may read the datasets' layout rules, not the reverse
    'evaluation': {'models', 'inference', 'apis', 'engine'},
    'inference': {'apis', 'engine', 'evaluation'},
    'visualization': {'models', 'inference', 'apis', 'engine'},
}

#: Justified module-level imports against the layering (file, layer).
ALLOWED = {
    # the TTA and ensemble wrappers are built on the inference layer's
    # averaging stream and whole-video driver
    ('models/vos/ensemble.py', 'inference'),
    ('models/tta/vos_tta_model.py', 'inference'),
}


def _module_level_imports(path):
    """vosbench layers imported at module level (not inside functions)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    layers = set()
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                node.module:
            names = [node.module]
        for name in names:
            parts = name.split('.')
            if parts[0] == 'vosbench' and len(parts) > 1:
                layers.add(parts[1])
    return layers


def _package_files():
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                yield osp.relpath(path, PACKAGE).replace(os.sep, '/'), path


def test_no_module_level_import_runs_back_up():
    violations = []
    for rel, path in _package_files():
        layer = rel.split('/')[0].replace('.py', '')
        for imported in _module_level_imports(path) & FORBIDDEN.get(
                layer, set()):
            if (rel, imported) not in ALLOWED:
                violations.append(f'vosbench/{rel} imports vosbench.'
                                  f'{imported}')
    assert not violations, '\n'.join(violations)


@pytest.mark.parametrize('rel,layer', sorted(ALLOWED))
def test_allowed_exceptions_are_still_needed(rel, layer):
    """An exception that is no longer used is removed from the list."""
    assert layer in _module_level_imports(osp.join(PACKAGE, rel))


def test_the_check_sees_imports(tmp_path):
    module = tmp_path / 'm.py'
    module.write_text('import os\nfrom vosbench.inference import x\n'
                      'import vosbench.apis.inference\n'
                      'def f():\n    from vosbench.engine import y\n')
    assert _module_level_imports(str(module)) == {'inference', 'apis'}
