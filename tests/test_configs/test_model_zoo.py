"""The model zoo and the documentation agree with the repository.

- every config of configs/stm (and configs/ensemble) is listed in its
  metafile.yaml, every listed config exists, and model-index.yml imports
  the metafiles;
- the parameter counts of the metafiles are those of the built models;
- configs/stm_multilevel_davis.py is only a shortcut: it resolves to the
  same config as the multi-level full-training config it inherits;
- every relative link of README.md, docs/ and the config READMEs points to
  an existing file (and heading), every repository path they name exists,
  and every ``vosbench.*`` name they use can be imported;
- the backbone table of docs/benchmarks.md is the one of configs/stm/README.md.
"""
import ast
import glob
import importlib
import json
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ZOO_FOLDERS = ('stm', 'ensemble')
SHORTCUT = 'configs/stm_multilevel_davis.py'
SHORTCUT_TARGET = ('configs/stm/stm_multilevel-r50_4xb4-80k_'
                   'static-pretrain-davis17-ytvos19.py')
DOCS = sorted(
    [osp.join(REPO, 'README.md')]
    + glob.glob(osp.join(REPO, 'docs', '**', '*.md'), recursive=True)
    + glob.glob(osp.join(REPO, 'configs', '**', 'README.md'), recursive=True))


def _rel(path):
    return osp.relpath(path, REPO)


def _load_yaml(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


def _metafile(folder):
    return _load_yaml(f'configs/{folder}/metafile.yaml')


def _configs(folder):
    return sorted(_rel(p) for p in glob.glob(
        osp.join(REPO, 'configs', folder, '*.py')))


# ---------------------------------------------------------------- metafiles

def test_model_index_imports_the_metafiles():
    index = _load_yaml('model-index.yml')
    imports = index['Import']
    assert 'configs/stm/metafile.yaml' in imports
    for path in imports:
        assert osp.isfile(osp.join(REPO, path)), path


@pytest.mark.parametrize('folder', ZOO_FOLDERS)
def test_metafile_lists_every_config_of_its_folder(folder):
    models = _metafile(folder)['Models']
    listed = [m['Config'] for m in models]
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    for path in listed:
        assert osp.isfile(osp.join(REPO, path)), f'{path} does not exist'
    assert sorted(listed) == _configs(folder)


def test_metafile_entries_are_complete_and_in_a_collection():
    collections = {c['Name'] for c in _metafile('stm')['Collections']}
    assert 'STM' in collections
    stm_paper = _metafile('stm')['Collections'][0]['Paper']
    assert '1904.00607' in stm_paper['URL']
    names = []
    for folder in ZOO_FOLDERS:
        for model in _metafile(folder)['Models']:
            names.append(model['Name'])
            # the name is the config's file name, as OpenMMLab does it
            assert model['Name'] == osp.splitext(
                osp.basename(model['Config']))[0]
            assert model['In Collection'] in collections
            assert model['Metadata']['Training Data']
            assert isinstance(model['Metadata']['Parameters'], int)
            assert model['Paper']['Title']
            assert osp.isfile(osp.join(REPO, model['README']))
            # nothing has been trained on real data: no results, no weights
            assert 'Results' not in model and 'Weights' not in model
    assert len(names) == len(set(names))


def test_metafile_parameters_are_those_of_the_built_models():
    from mmengine.registry import init_default_scope

    from vosbench.registry import MODELS
    from vosbench.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('vosbench')
    counted = {}  # one build per distinct model config
    for folder in ZOO_FOLDERS:
        for entry in _metafile(folder)['Models']:
            model_cfg = Config.fromfile(
                osp.join(REPO, entry['Config'])).model.to_dict()
            key = json.dumps(model_cfg, sort_keys=True, default=str)
            if key not in counted:
                model = MODELS.build(model_cfg)
                counted[key] = sum(p.numel() for p in model.parameters()
                                   if p.requires_grad)
                del model
            assert entry['Metadata']['Parameters'] == counted[key], \
                entry['Name']


def test_gmacs_of_the_metafile_are_the_readme_table():
    """GMACs of the ResNet-50-class entries are the measured step GMACs of
    configs/stm/README.md (the tiny STM's are in docs/benchmarks.md)."""
    readme = _read('configs/stm/README.md')
    step_gmacs = {row[0]: row[6] for row in _table_rows(readme, 'backbone')}
    by_backbone = {'ResNet-50': 'ResNet-50',
                   'ResNeSt-50': 'ResNeSt-50 (2s1x64d)',
                   'Refine-50': 'Refine-50',
                   'Multi-level ResNet-50': 'multi-level (2 x ResNet-50)'}
    for model in _metafile('stm')['Models']:
        backbone = model['Metadata']['Architecture'][1]
        gmacs = model['Metadata'].get('GMACs')
        if backbone in by_backbone:
            assert str(gmacs) == step_gmacs[by_backbone[backbone]], \
                model['Name']
        else:
            assert gmacs is None or f'step {gmacs} GMACs' in _read(
                'docs/benchmarks.md'), model['Name']


# ---------------------------------------------------------- shortcut config

def _comparable(cfg):
    """The resolved config without the keys that name files."""
    return {k: v for k, v in cfg.to_dict().items()
            if k not in ('filename', 'work_dir')}


def test_shortcut_only_inherits_the_full_training_config():
    with open(osp.join(REPO, SHORTCUT)) as f:
        tree = ast.parse(f.read())
    assigned = [t.id for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets]
    assert assigned == ['_base_']
    shortcut = Config.fromfile(osp.join(REPO, SHORTCUT))
    target = Config.fromfile(osp.join(REPO, SHORTCUT_TARGET))
    for key in ('model', 'train_dataloader', 'val_dataloader',
                'test_dataloader', 'optim_wrapper', 'train_cfg',
                'load_from', 'custom_hooks'):
        assert shortcut.get(key) == target.get(key), key
    assert _comparable(shortcut) == _comparable(target)
    # the full training: main training from the pre-training checkpoint
    assert 'static-pretrain/iter_150000.pth' in shortcut.load_from


def test_shortcut_work_dir_is_named_after_it():
    import argparse

    from vosbench.utils.cli import load_runner_config
    args = argparse.Namespace(config=osp.join(REPO, SHORTCUT),
                              launcher='none', cfg_options=None,
                              work_dir=None, local_rank=0)
    cfg = load_runner_config(args)
    assert osp.basename(cfg.work_dir) == 'stm_multilevel_davis'


def test_all_configs_test_builds_the_shortcut():
    """tests/test_configs/test_all_configs.py globs configs/ recursively,
    which includes top-level configs such as the shortcut."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'test_all_configs_module',
        osp.join(REPO, 'tests', 'test_configs', 'test_all_configs.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert osp.join(REPO, SHORTCUT) in module.CONFIGS


# ------------------------------------------------------------ documentation

def _read(path):
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        return f.read()


def _without_code(text):
    return re.sub(r'```.*?```', '', text, flags=re.S)


def _slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r'[`*]', '', heading.strip().lower())
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def _anchors(path):
    text = _without_code(_read(path))
    return {_slug(m) for m in re.findall(r'^#+\s+(.*)$', text, flags=re.M)}


def _links(path):
    text = _without_code(_read(path))
    text = re.sub(r'<!--.*?-->', '', text, flags=re.S)
    return re.findall(r'\[[^\]]*\]\(([^)\s]+)\)', text)


@pytest.mark.parametrize('doc', DOCS, ids=[_rel(d) for d in DOCS])
def test_relative_links_point_to_existing_files(doc):
    doc = _rel(doc)
    for link in _links(doc):
        if re.match(r'[a-z]+:', link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition('#')
        path = osp.normpath(osp.join(osp.dirname(doc), target)) \
            if target else doc
        assert osp.exists(osp.join(REPO, path)), f'{doc}: {link}'
        if anchor and path.endswith('.md'):
            assert anchor in _anchors(path), f'{doc}: {link} (no heading)'


PATH_RE = re.compile(
    r'(?<![\w/.-])((?:configs|tools|docs|vosbench|tests|requirements|_base_)'
    r'/[\w./-]*[\w])')


@pytest.mark.parametrize('doc', DOCS, ids=[_rel(d) for d in DOCS])
def test_named_repository_paths_exist(doc):
    text = _read(doc)
    base = osp.dirname(_rel(doc))
    for match in PATH_RE.finditer(text):
        path = match.group(1)
        after = text[match.end():match.end() + 1]
        if after in '{<*' and after:  # a pattern, not a path
            continue
        if path.startswith('_base_/'):
            path = 'configs/' + path
        candidates = [path, osp.normpath(osp.join(base, path))]
        assert any(osp.exists(osp.join(REPO, c)) for c in candidates), \
            f'{_rel(doc)} names {path}, which does not exist'


CONFIG_NAME_RE = re.compile(r'`((?:stm|ensemble)_[\w.-]+\.py)`')


@pytest.mark.parametrize('doc', DOCS, ids=[_rel(d) for d in DOCS])
def test_named_config_files_exist(doc):
    existing = {osp.basename(p) for p in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)}
    for name in CONFIG_NAME_RE.findall(_read(doc)):
        assert name in existing, f'{_rel(doc)} names {name}'


def _resolve(dotted):
    parts = dotted.split('.')
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize('doc', DOCS, ids=[_rel(d) for d in DOCS])
def test_python_names_in_the_docs_exist(doc):
    text = _read(doc)
    for dotted in re.findall(r'(?<![\w/])(vosbench(?:\.\w+)+)', text):
        assert _resolve(dotted) is not None, f'{_rel(doc)}: {dotted}'
    for module, names in re.findall(
            r'^from (vosbench[\w.]*) import ([\w, ]+)$', text, flags=re.M):
        for name in names.split(','):
            assert hasattr(importlib.import_module(module), name.strip()), \
                f'{_rel(doc)}: from {module} import {name.strip()}'


def test_readme_is_short_and_starts_with_the_two_commands():
    readme = _read('README.md')
    assert len(readme.splitlines()) <= 150
    first_block = readme.split('```')[1]
    assert 'make demo' in first_block and 'make test' in first_block
    for stale in ('REFERENCE', 'shared/reference', 'does not grow with'):
        assert stale not in readme


@pytest.mark.parametrize('doc', DOCS, ids=[_rel(d) for d in DOCS])
def test_docs_cite_papers_not_files_outside_the_repository(doc):
    text = _read(doc)
    assert 'REFERENCE' not in text and 'shared/reference' not in text
    assert 'does not grow with the video' not in text


def _table_rows(text, first_header):
    """Rows (lists of cells) of the markdown table whose first header cell
    is ``first_header``."""
    rows, inside = [], False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('|') and cells[0] == first_header:
            inside = True
            continue
        if inside:
            if not line.startswith('|'):
                break
            if set(cells[0]) <= {'-', ':'}:
                continue
            rows.append(cells)
    return rows


def test_benchmarks_backbone_table_is_the_model_zoo_one():
    zoo = _table_rows(_read('configs/stm/README.md'), 'backbone')
    bench = _table_rows(_read('docs/benchmarks.md'), 'backbone')
    # the model zoo's table has a "configs" column after the backbone
    assert len(bench) == 4
    assert [[row[0]] + row[2:] for row in zoo] == bench
