"""Test (and evaluate) a vosbench model.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR] [--tta] [--report [PATH]] [--cfg-options k=v ...]
        [--launcher ...]

``--out`` writes DAVIS-format predictions (``DIR/<seq>/<frame>.png``) and
the evaluation CSVs; for a config with ``prediction_writer`` (YouTube-VOS:
``DIR/Annotations/<video>/<frame>.png`` of the ``valid`` frames and
``DIR/submission.zip``) that hook writes them instead. ``--show-dir``
writes overlays of the predictions. ``--report [PATH]`` (DAVIS-layout test
sets, with ``--out``) writes an HTML results report of the predictions
(``tools/analysis/results_report.py``; default ``DIR/report.html``) once
every video is done.

``--tta`` tests with test-time augmentation: the config's ``tta_model``
wraps its ``model`` (``tta_model.module = model``) and ``tta_pipeline``, if
set, replaces the test pipeline; a config without ``tta_model`` gets flip x
scales (0.75, 1.0) (``vosbench.models.tta.default_tta_model``).

An ensemble config (``model = dict(type='VOSEnsemble', models=[...])``)
names each member's checkpoint itself: pass ``none`` as CHECKPOINT.

Before the first video, ``--out`` and ``--show-dir`` are created and proven
writable, and the dataset's layout is checked (its frame lists, and the
sizes of frames and masks from their file headers). A video that fails (an
unreadable frame, a corrupt mask) is reported with its file and reason, what
was segmented of it is kept, the other videos go on, the metric is written
for the videos that completed and marks the failed ones, and the exit
status is 1 with a summary of the failures (``vosbench.engine.VOSTestLoop``);
``--fail-fast`` stops at the first failure instead.

``--out DIR`` gets ``DIR/vosbench_run.json`` (config and checkpoint with
their sha256, vosbench version, command line, start and end time, complete
or not, failed videos; ``vosbench.evaluation.results_manifest``). A run
into a folder made by another config, checkpoint or options is refused
unless ``--overwrite`` (which empties it first); a rerun of the same writes
over it. Temporary files a killed run left there are deleted.
"""
import argparse
import os
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
    parser.add_argument(
        '--fail-fast', action='store_true',
        help='stop at the first video that fails (default: report it, keep '
        'what was segmented of it, go on with the others and exit with '
        'status 1 at the end)')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='--out holds the results of another config, checkpoint or '
        'options (its vosbench_run.json says so): empty it first (default: '
        'refuse)')
    parser.add_argument(
        '--precision', choices=['fp32', 'bf16', 'fp16'],
        help='network precision (model.test_cfg.precision): fp32 exact '
        '(default), bf16 on CPU and CUDA, fp16 on CUDA')
    parser.add_argument(
        '--report', nargs='?', const='', metavar='PATH',
        help='with --out: write an HTML results report of the predictions '
        '(default: <out>/report.html)')
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
    if getattr(args, 'precision', None):
        if no_checkpoint:
            raise SystemExit('--precision sets the test_cfg of one model; '
                             'for an ensemble set test_cfg.precision in '
                             'its member configs')
        cfg.model.setdefault('test_cfg', {})['precision'] = args.precision
    set_test_loop(cfg, getattr(args, 'fail_fast', False))
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


def set_test_loop(cfg: Config, fail_fast: bool) -> None:
    """Test with ``VOSTestLoop`` (a failed video does not stop the run
    unless ``fail_fast``), keeping the config's other ``test_cfg`` keys. A
    config that names a loop of its own keeps it."""
    loop = dict(cfg.get('test_cfg', None) or {})
    loop_type = str(loop.get('type', 'TestLoop')).split('.')[-1]
    if loop_type not in ('TestLoop', 'VOSTestLoop'):
        print(f'warning: the config\'s test_cfg names its own loop '
              f'({loop["type"]}): failed videos stop the run as that loop '
              'does, and --fail-fast has no effect', file=sys.stderr)
        return
    loop['type'] = 'VOSTestLoop'
    loop['fail_fast'] = bool(fail_fast)
    cfg.test_cfg = loop


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


def launcher_rank(launcher: str) -> int:
    """This process's rank, from the launcher's environment (before the
    process group exists)."""
    if launcher == 'none':
        return 0
    for key in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(key, '').isdigit():
            return int(os.environ[key])
    return 0


def check_outputs(args, cfg: Config):
    """Before anything is built: ``--show-dir`` and ``--out`` created and
    proven writable, and ``--out`` checked against the run that made it
    (refused if another run made it, unless ``--overwrite``). Returns the
    identity of this run (None without ``--out``)."""
    from vosbench.evaluation.results_manifest import (ResultsFolderError,
                                                      ensure_writable_folder,
                                                      prepare_results_folder,
                                                      run_identity)
    try:
        if args.show_dir:
            ensure_writable_folder(args.show_dir,
                                   'overlay folder (--show-dir)')
        if not args.out:
            return None
        no_checkpoint = args.checkpoint.lower() == 'none'
        identity = run_identity(
            args.config, None if no_checkpoint else args.checkpoint,
            cfg_options=args.cfg_options, tta=args.tta,
            partial_load=getattr(args, 'partial_load', False),
            member_checkpoints=[
                c for c in _member_checkpoints(cfg.model) if c is not None
            ] if is_ensemble(cfg.model) else ())
        prepare_results_folder(args.out, identity, args.overwrite,
                               write=False, keep=[cfg.work_dir])
    except ResultsFolderError as exc:
        raise SystemExit(f'error: {exc}') from None
    return identity


def prepare_outputs(args, cfg: Config, identity, command: list):
    """Right before the first video: ``--out`` made ready by
    ``prepare_results_folder`` (emptied with ``--overwrite`` if another run
    made it, temporary files of a killed run deleted, the manifest written;
    by rank 0 only). Returns the manifest (None without ``--out``)."""
    from vosbench.evaluation.results_manifest import (ResultsFolderError,
                                                      prepare_results_folder)
    if identity is None:
        return None
    rank0 = launcher_rank(args.launcher) == 0
    try:
        manifest = prepare_results_folder(args.out, identity, args.overwrite,
                                          command=command, write=rank0,
                                          keep=[cfg.work_dir])
    except ResultsFolderError as exc:
        raise SystemExit(f'error: {exc}') from None
    if rank0 and manifest.get('emptied_earlier_run'):
        print(f'--overwrite: emptied {args.out}, which held the results of '
              'another run', file=sys.stderr)
    if rank0 and manifest.get('mixed'):
        print(f'warning: {args.out}: {manifest["mixed_reason"]} '
              '(recorded in its vosbench_run.json)', file=sys.stderr)
    return manifest


def report_settings(args, cfg: Config, dataset):
    """For ``--report``, before the first video: what the report reads
    (the test set's DAVIS layout), or None without ``--report``."""
    if args.report is None:
        return None
    from vosbench.datasets import DAVISDataset
    if cfg.get('prediction_writer', None) or \
            not isinstance(dataset, DAVISDataset):
        raise SystemExit(
            f'error: --report needs a test set in the DAVIS layout with '
            f'ground truth and DAVIS-format predictions in --out; this '
            f'config tests on {type(dataset).__name__}')
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, list) else [cfg.test_evaluator]
    return dict(
        gt_root=dataset.data_root, split=dataset.split, year=dataset.year,
        resolution=dataset.resolution,
        sparse=any(e.get('sparse', False) for e in evaluators),
        sequences=[dataset.get_data_info(i)['seq_name']
                   for i in range(len(dataset))])


def report_path(args) -> str:
    return args.report or osp.join(args.out, 'report.html')


def write_report(args, settings: dict) -> str:
    """The HTML results report of ``--out`` (one method, named after the
    config)."""
    from vosbench.evaluation.results_report import gather_results_report
    from vosbench.visualization.report_html import write_report_html
    path = report_path(args)
    name = osp.splitext(osp.basename(args.config))[0] + \
        (' +tta' if args.tta else '')
    settings = dict(settings)
    try:
        report = gather_results_report(settings.pop('gt_root'), [args.out],
                                       [name], **settings)
        write_report_html(report, path)
    except (ValueError, OSError) as exc:
        raise SystemExit(f'error: --report: {exc}') from exc
    print(f'report written: {path}')
    return path


def _failures_of(runner) -> list:
    loop = getattr(runner, '_test_loop', None)
    return list(getattr(loop, 'failures', None) or [])


def main(argv=None):
    command = [osp.abspath(__file__)] + list(
        sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.report is not None and not args.out:
        raise SystemExit('error: --report reads the predictions of --out: '
                         'give --out DIR too')
    if args.checkpoint.lower() != 'none' and not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    from mmengine.dist import barrier

    from vosbench.datasets import DatasetLayoutError
    from vosbench.engine import (build_runner, format_failures,
                                 setup_cpu_distributed, shutdown_distributed)
    from vosbench.evaluation.results_manifest import finish_manifest
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
    identity = check_outputs(args, cfg)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    try:
        runner.test_loop  # builds the dataset, which checks its layout
    except DatasetLayoutError as exc:
        raise SystemExit(f'error: the dataset\'s layout: {exc}') from exc
    report = report_settings(args, cfg, runner.test_loop.dataloader.dataset)
    manifest = prepare_outputs(args, cfg, identity, command)
    if report is not None and launcher_rank(args.launcher) == 0 and \
            osp.lexists(report_path(args)):
        os.remove(report_path(args))  # a failed run leaves no stale report
    barrier()  # rank 0 has made --out ready before any rank writes to it
    write_manifest = manifest is not None and \
        launcher_rank(args.launcher) == 0
    try:
        metrics = runner.test()
    except BaseException as exc:
        failures = _failures_of(runner)
        if write_manifest:
            finish_manifest(args.out, manifest, failures,
                            error=f'{type(exc).__name__}: {exc}')
        if failures:
            print(format_failures(failures), file=sys.stderr)
        if isinstance(exc, DatasetLayoutError):
            raise SystemExit(f'error: the dataset\'s layout: {exc}') from exc
        raise
    failures = _failures_of(runner)
    if write_manifest:
        finish_manifest(args.out, manifest, failures)
    shutdown_distributed()
    if failures:
        raise SystemExit(format_failures(
            failures, len(runner.test_loop.dataloader.dataset)))
    if report is not None and launcher_rank(args.launcher) == 0:
        write_report(args, report)
    return metrics


if __name__ == '__main__':
    main()
