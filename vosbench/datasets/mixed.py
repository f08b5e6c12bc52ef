"""Several datasets mixed with given sampling ratios."""
import copy
from typing import List, Optional, Sequence, Union

import numpy as np
from torch.utils.data import Dataset

from vosbench.registry import DATASETS


@DATASETS.register_module()
class RatioConcatDataset(Dataset):
    """Concatenate datasets so that each is drawn with a given share.

    Index ``i`` is mapped to ``(source, index in source)`` by a table made
    once from ``numpy.random.default_rng(seed)``: source ``s`` gets
    ``round(ratios[s] * length)`` entries (largest remainders, so the counts
    add up to ``length``) that walk through a random permutation of its
    items (again and again if it is smaller than its count), and the entries
    of all sources are shuffled together. The mapping depends only on the
    arguments, so every worker process and every rank agrees on it; the
    randomness of a sample is that of the source's pipeline.

    Args:
        datasets (list[dict | Dataset]): Datasets or their configs (built
            from vosbench's ``DATASETS``).
        ratios (list[float], optional): Non-negative shares (normalised to sum
            to 1). Defaults to the datasets' sizes (a plain concatenation).
        length (int, optional): Samples per pass. Defaults to the smallest
            length that shows every item of each source with a positive ratio
            at least once: ``max(len(source) / share)``.
        seed (int): Seed of the table. Defaults to 0.
        lazy_init (bool): Build the table (and initialise the sources) on
            first use. Defaults to False.

    Example::

        dict(type='RatioConcatDataset',
             datasets=[coco_cfg, voc_cfg, msra_cfg, ecssd_cfg],
             ratios=[0.4, 0.2, 0.3, 0.1], length=100000)
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, Dataset]],
                 ratios: Optional[Sequence[float]] = None,
                 length: Optional[int] = None,
                 seed: int = 0,
                 lazy_init: bool = False):
        if not datasets:
            raise ValueError('RatioConcatDataset needs at least one dataset')
        self.datasets: List[Dataset] = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets]
        if ratios is not None:
            if len(ratios) != len(self.datasets):
                raise ValueError(f'{len(ratios)} ratios for '
                                 f'{len(self.datasets)} datasets')
            if any(r < 0 for r in ratios) or sum(ratios) <= 0:
                raise ValueError(f'ratios must be >= 0 with a positive sum, '
                                 f'got {list(ratios)}')
        if length is not None and length < 1:
            raise ValueError(f'length must be >= 1, got {length}')
        self._ratios = None if ratios is None else [float(r) for r in ratios]
        self._length = length
        self.seed = seed
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------------
    def full_init(self) -> None:
        """Initialise the sources and build the index table."""
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        sizes = np.array([len(d) for d in self.datasets], dtype=np.int64)
        ratios = np.array(self._ratios if self._ratios is not None else sizes,
                          dtype=np.float64)
        if ratios.sum() <= 0:
            raise ValueError('all datasets are empty')
        shares = ratios / ratios.sum()
        for i, (size, share) in enumerate(zip(sizes, shares)):
            if share > 0 and size == 0:
                raise ValueError(
                    f'dataset {i} ({type(self.datasets[i]).__name__}) is '
                    'empty but has a positive ratio')
        used = shares > 0
        length = self._length if self._length is not None else int(
            np.ceil((sizes[used] / shares[used]).max() - 1e-9))
        counts = self._split(length, shares)
        rng = np.random.default_rng(self.seed)
        sources, indices = [], []
        for source, (size, count) in enumerate(zip(sizes, counts)):
            if count == 0:
                continue
            walk = np.concatenate([rng.permutation(size) for _ in
                                   range(int(np.ceil(count / size)))])
            sources.append(np.full(count, source, dtype=np.int64))
            indices.append(walk[:count].astype(np.int64))
        order = rng.permutation(length)
        self.sources = np.concatenate(sources)[order]
        self.indices = np.concatenate(indices)[order]
        self.shares = shares
        self._fully_initialized = True

    @staticmethod
    def _split(length: int, shares: np.ndarray) -> np.ndarray:
        """Integer counts proportional to ``shares`` that sum to ``length``
        (largest-remainder rounding)."""
        exact = shares * length
        counts = np.floor(exact).astype(np.int64)
        remainder = exact - counts
        extra = length - int(counts.sum())
        # ties broken by source order, so the result is reproducible
        for source in np.argsort(-remainder, kind='stable')[:extra]:
            counts[source] += 1
        return counts

    # ------------------------------------------------------------------
    def __len__(self) -> int:
        self.full_init()
        return len(self.sources)

    def locate(self, idx: int):
        """``(source, index in source)`` of sample ``idx``."""
        self.full_init()
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for '
                             f'{len(self)} samples')
        return int(self.sources[idx]), int(self.indices[idx])

    def __getitem__(self, idx: int):
        source, index = self.locate(idx)
        return self.datasets[source][index]

    def get_data_info(self, idx: int) -> dict:
        source, index = self.locate(idx)
        return self.datasets[source].get_data_info(index)

    @property
    def metainfo(self) -> dict:
        """The first dataset's meta information, plus the ``sources``' names
        and ``ratios`` (shares)."""
        first = getattr(self.datasets[0], 'metainfo', {}) or {}
        meta = copy.deepcopy(dict(first))
        meta['sources'] = [
            getattr(d, 'metainfo', {}).get('dataset_name', type(d).__name__)
            for d in self.datasets]
        if self._fully_initialized:
            meta['ratios'] = [float(s) for s in self.shares]
        return meta
