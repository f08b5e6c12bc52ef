"""Print a config with its ``_base_`` files and overrides resolved.

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
        [--out FILE.py|.json|.yaml]

The config is loaded with mmengine's ``Config.fromfile`` and
``--cfg-options`` are merged the way ``tools/train.py`` and
``tools/test.py`` merge them (``mmengine.config.DictAction``, then
``merge_from_dict``), so what is printed is what those tools would run.
An option whose key is not in the config is added to it, as the tools
add it; a note on stderr names each such key (often a typo, e.g.
``train_cfg.max_iter``). ``--out`` also writes the resolved config (a
``.py`` file has the printed text; ``.json`` and ``.yaml`` the plain
values), through a temporary file renamed into place.
"""
import argparse
import os.path as osp
import sys
from typing import List

try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

PROG = 'tools/misc/print_config.py'
DUMP_FORMATS = ('.py', '.json', '.yaml', '.yml')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print a config with its _base_ files and '
        '--cfg-options resolved')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. train_cfg.max_iters=100 '
        '(as for tools/train.py)')
    parser.add_argument('--out', help='also write the resolved config here '
                        '(.py, .json or .yaml)')
    args = parser.parse_args(argv)
    if args.out and osp.splitext(args.out)[1].lower() not in DUMP_FORMATS:
        parser.error(f'--out {args.out}: the name must end with one of '
                     f'{", ".join(DUMP_FORMATS)}')
    return args


def new_option_keys(cfg: Config, options: dict) -> List[str]:
    """The keys of ``options`` (dotted, as ``--cfg-options`` writes them;
    a number indexes a list) that are not in ``cfg``."""
    missing = []
    for key in options:
        node = cfg._cfg_dict
        for part in key.split('.'):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif (isinstance(node, (list, tuple)) and part.isdigit()
                  and int(part) < len(node)):
                node = node[int(part)]
            else:
                missing.append(key)
                break
    return missing


def resolve_config(config: str, cfg_options: dict = None) -> Config:
    """``Config.fromfile(config)`` with ``cfg_options`` merged; a missing
    or broken file raises ``SystemExit`` naming it."""
    if not osp.isfile(config):
        raise SystemExit(f'{PROG}: error: {config}: no such file')
    try:
        cfg = Config.fromfile(config)
    except Exception as exc:  # syntax errors, missing _base_ files, ...
        raise SystemExit(f'{PROG}: error: {config}: cannot be loaded '
                         f'({type(exc).__name__}: {exc})') from None
    if cfg_options:
        new_keys = new_option_keys(cfg, cfg_options)
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, IndexError) as exc:
            raise SystemExit(f'{PROG}: error: --cfg-options do not fit '
                             f'{config} ({exc})') from None
        for key in new_keys:
            print(f'note: --cfg-options {key}: not in {config}; added as a '
                  'new key', file=sys.stderr)
    return cfg


def dump_config(cfg: Config, out: str) -> None:
    """Write ``cfg`` to ``out`` (format from the extension) atomically."""
    import os

    import mmengine

    from vosbench.engine.atomic_files import atomic_write
    ext = osp.splitext(out)[1].lower()
    text = cfg.pretty_text if ext == '.py' else mmengine.dump(
        cfg.to_dict(), file_format=ext.lstrip('.'))
    try:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        atomic_write(out, text)
    except OSError as exc:
        raise SystemExit(f'{PROG}: error: {out}: cannot be written ({exc})'
                         ) from None


def main(argv=None) -> Config:
    args = parse_args(argv)
    cfg = resolve_config(args.config, args.cfg_options)
    print(cfg.pretty_text)
    if args.out:
        dump_config(cfg, args.out)
        print(f'written: {args.out}', file=sys.stderr)
    return cfg


if __name__ == '__main__':
    main()
