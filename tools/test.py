"""Test (and evaluate) a vosbench model.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]

``--out`` writes DAVIS-format predictions (``DIR/<seq>/<frame>.png``) and
the evaluation CSVs; ``--show-dir`` writes overlays of the predictions.
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
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='folder for DAVIS-format predicted masks and the '
        'evaluation CSV files')
    parser.add_argument('--show-dir', help='folder for overlay images')
    parser.add_argument(
        '--show-interval', type=int, default=1,
        help='overlay every N-th frame (with --show-dir)')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def build_test_cfg(args) -> Config:
    """Load the config and apply the command line to it."""
    cfg = load_runner_config(args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    custom_hooks = list(cfg.get('custom_hooks', None) or [])
    if args.out:
        custom_hooks.append(dict(type='PredictionWriterHook',
                                 out_dir=args.out))
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


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    from mmengine.runner import Runner

    from vosbench.engine import setup_cpu_distributed
    from vosbench.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    cfg = build_test_cfg(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
