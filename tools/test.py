"""Test (and evaluate) a vosbench model.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR] [--tta] [--cfg-options k=v ...] [--launcher ...]

``--out`` writes DAVIS-format predictions (``DIR/<seq>/<frame>.png``) and
the evaluation CSVs; for a config with ``prediction_writer`` (YouTube-VOS:
``DIR/Annotations/<video>/<frame>.png`` of the ``valid`` frames and
``DIR/submission.zip``) that hook writes them instead. ``--show-dir``
writes overlays of the predictions.

``--tta`` tests with test-time augmentation: the config's ``tta_model``
wraps its ``model`` (``tta_model.module = model``) and ``tta_pipeline``, if
set, replaces the test pipeline; a config without ``tta_model`` gets flip x
scales (0.75, 1.0) (``vosbench.models.tta.default_tta_model``).

An ensemble config (``model = dict(type='VOSEnsemble', models=[...])``)
names each member's checkpoint itself: pass ``none`` as CHECKPOINT.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402

from vosbench.utils.cli import (add_runner_arguments,  # noqa: E402
                                load_runner_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a VOS model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', help='checkpoint file; "none" for an ensemble config '
        '(its members name their checkpoints)')
    parser.add_argument(
        '--out', help='folder for DAVIS-format predicted masks and the '
        'evaluation CSV files')
    parser.add_argument('--show-dir', help='folder for overlay images')
    parser.add_argument(
        '--show-interval', type=int, default=1,
        help='overlay every N-th frame (with --show-dir)')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation: the config\'s tta_model (default: '
        'flip x scales 0.75, 1.0) and tta_pipeline')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def build_test_cfg(args) -> Config:
    """Load the config and apply the command line to it."""
    cfg = load_runner_config(args)
    no_checkpoint = args.checkpoint.lower() == 'none'
    if is_ensemble(cfg.model) != no_checkpoint:
        raise SystemExit(
            'an ensemble config names its members\' checkpoints: pass none '
            'as CHECKPOINT' if not no_checkpoint else
            'CHECKPOINT none is for ensemble configs (type=VOSEnsemble); '
            'give the checkpoint of the model')
    cfg.load_from = None if no_checkpoint else args.checkpoint
    cfg.resume = False
    if args.tta:
        apply_tta(cfg)
    custom_hooks = list(cfg.get('custom_hooks', None) or [])
    if args.out:
        # a dataset config may choose the writer (YouTube-VOS: submission)
        writer = dict(cfg.get('prediction_writer', None)
                      or dict(type='PredictionWriterHook'))
        writer['out_dir'] = args.out
        custom_hooks.append(writer)
        evaluators = cfg.test_evaluator if isinstance(
            cfg.test_evaluator, list) else [cfg.test_evaluator]
        for evaluator in evaluators:
            evaluator['output_dir'] = args.out
    if args.show_dir:
        custom_hooks.append(dict(type='VOSVisualizationHook',
                                 show_dir=args.show_dir,
                                 interval=args.show_interval))
    cfg.custom_hooks = custom_hooks
    return cfg


def is_ensemble(model_cfg) -> bool:
    """Whether a model config is a ``VOSEnsemble`` (possibly wrapped by a
    TTA model)."""
    if model_cfg is None:
        return False
    if str(model_cfg.get('type', '')).split('.')[-1] == 'VOSEnsemble':
        return True
    module = model_cfg.get('module')
    return isinstance(module, dict) and is_ensemble(module)


def apply_tta(cfg: Config) -> None:
    """Swap in test-time augmentation, the mmengine way: ``model`` becomes
    ``tta_model`` wrapping it, and ``tta_pipeline`` (if any) the test
    pipeline. Without ``tta_model``: flip x scales (0.75, 1.0)."""
    from vosbench.models.tta import default_tta_model

    tta_model = cfg.get('tta_model', None)
    tta_model = dict(tta_model) if tta_model else default_tta_model()
    tta_model['module'] = cfg.model
    cfg.model = tta_model
    tta_pipeline = cfg.get('tta_pipeline', None)
    if tta_pipeline:
        cfg.test_dataloader.dataset.pipeline = tta_pipeline


def _member_checkpoints(model_cfg) -> list:
    if model_cfg.get('module') is not None:
        return _member_checkpoints(model_cfg['module'])
    return [m.get('checkpoint') for m in model_cfg.get('models', [])
            if isinstance(m, dict)]


def main(argv=None):
    args = parse_args(argv)
    if args.checkpoint.lower() != 'none' and not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    from mmengine.runner import Runner

    from vosbench.engine import setup_cpu_distributed, shutdown_distributed
    from vosbench.utils import keep_freed_memory, register_all_modules

    keep_freed_memory()  # see vosbench/utils/allocator.py
    register_all_modules(init_default_scope=False)
    cfg = build_test_cfg(args)
    if is_ensemble(cfg.model):
        missing = [c for c in _member_checkpoints(cfg.model)
                   if c is not None and not osp.isfile(c)]
        if missing:
            raise SystemExit('ensemble member checkpoints not found: '
                             + ', '.join(missing))
    setup_cpu_distributed(cfg, args.launcher)
    from vosbench.engine import build_runner; runner = build_runner(cfg)
    metrics = runner.test()
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    main()
