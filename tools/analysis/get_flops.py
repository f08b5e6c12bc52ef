"""Parameters and GMACs of a config's model and encoders.

    python tools/analysis/get_flops.py CONFIG [--shape 384 384] [--objects 2]
        [--latency] [--cfg-options k=v ...]

Reports, for an input of the given size: parameters and GMACs of the query
encoder (one frame), the memory encoder (one frame, per object), and one
inference step of the whole model (encode the previous frame into memory
for every object, then segment the frame against a memory of one frame).
Only convolutions and linear layers are counted. ``--latency`` also times
the query encoder and one step on this machine's CPU (wall-clock median of
5 runs after a warm-up, torch's default threads, with the allocator tuned
as ``tools/test.py`` tunes it: :func:`vosbench.utils.keep_freed_memory`).
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='parameters and GMACs')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[384, 384],
                        metavar=('H', 'W'))
    parser.add_argument('--objects', type=int, default=2)
    parser.add_argument('--latency', action='store_true',
                        help='also time on the CPU (median of 3 runs)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def _median_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def measure(config, shape=(384, 384), objects=2, latency=False,
            cfg_options=None) -> dict:
    """Parameter and MAC counts (and optionally CPU latency) of a config's
    model. Returns a dict of figures."""
    import vosbench.models  # noqa: F401
    from vosbench.registry import MODELS
    from vosbench.utils.complexity import count_macs, count_parameters

    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model).eval()
    height, width = shape
    frame = torch.rand(1, 3, height, width)
    masks = torch.rand(1, objects, height, width)
    memory_input = torch.rand(1, 5, height, width)
    query_macs, _ = count_macs(model.query_encoder, frame)
    memory_macs, _ = count_macs(model.memory_encoder, memory_input)

    class OneStep(torch.nn.Module):

        def __init__(self, stm):
            super().__init__()
            self.stm = stm

        def forward(self, frame, masks):
            key, value = self.stm.encode_memory(frame, masks)
            return self.stm.segment_frame(frame, key.unsqueeze(2),
                                          value.unsqueeze(2))

    step = OneStep(model)
    step_macs, _ = count_macs(step, frame, masks)
    figures = dict(
        params_total=count_parameters(model),
        params_query_encoder=count_parameters(model.query_encoder),
        params_memory_encoder=count_parameters(model.memory_encoder),
        gmacs_query_encoder=query_macs / 1e9,
        gmacs_memory_encoder_per_object=memory_macs / 1e9,
        gmacs_step=step_macs / 1e9)
    if latency:
        with torch.no_grad():
            figures['cpu_seconds_query_encoder'] = _median_seconds(
                lambda: model.query_encoder(frame))
            figures['cpu_seconds_step'] = _median_seconds(
                lambda: step(frame, masks))
    return figures


def main(argv=None):
    args = parse_args(argv)
    if args.latency:
        from vosbench.utils import keep_freed_memory
        keep_freed_memory()
    figures = measure(args.config, tuple(args.shape), args.objects,
                      args.latency, args.cfg_options)
    height, width = args.shape
    print(f'{args.config} at {height}x{width}, {args.objects} objects')
    if args.latency:
        print(f'  latency with {torch.get_num_threads()} torch threads, '
              f'load average {os.getloadavg()[0]:.2f}')
    for key, value in figures.items():
        if key.startswith('params'):
            print(f'  {key:34s} {value / 1e6:10.3f} M')
        elif key.startswith('gmacs'):
            print(f'  {key:34s} {value:10.2f} GMACs')
        else:
            print(f'  {key:34s} {value:10.3f} s')
    return figures


if __name__ == '__main__':
    main()
