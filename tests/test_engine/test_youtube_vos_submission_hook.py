"""YouTubeVOSSubmissionHook: PNGs of the output frames only, and the zip."""
import os
import os.path as osp
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from vosbench.engine.hooks import (PredictionWriterHook,
                                   YouTubeVOSSubmissionHook)
from vosbench.engine.hooks.youtube_vos_submission_hook import (
    expected_submission_frames, make_submission_zip)
from vosbench.registry import HOOKS
from vosbench.utils.mask_io import read_mask


class FakeDataset:

    def __init__(self, infos):
        self.infos = infos

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, idx):
        return dict(self.infos[idx])


def fake_runner(dataset):
    loader = SimpleNamespace(sampler=None, batch_size=1, dataset=dataset)
    return SimpleNamespace(test_loop=SimpleNamespace(dataloader=loader))


def result(seq, out_names, all_names):
    labels = np.zeros((len(out_names), 8, 8), np.uint8)
    for i in range(len(out_names)):
        labels[i, i:i + 2, 1:3] = 1 + i % 2
    return dict(seq_name=seq, frame_names=all_names,
                pred_frame_names=out_names, pred_labels=labels)


def test_writes_output_frames_and_zips(tmp_path):
    all_names = [f'{t:05d}' for t in range(11)]
    out_names = ['00000', '00005', '00010']
    dataset = FakeDataset([
        dict(seq_name='a', frame_names=all_names,
             output_frame_names=out_names),
        dict(seq_name='b', frame_names=['00000', '00005']),
    ])
    runner = fake_runner(dataset)
    hook = HOOKS.build(dict(type='YouTubeVOSSubmissionHook',
                            out_dir=str(tmp_path)))
    assert isinstance(hook, YouTubeVOSSubmissionHook)
    res_a = result('a', out_names, all_names)
    res_b = result('b', ['00000', '00005'], ['00000', '00005'])
    hook.after_test_iter(runner, 0, None, [res_a])
    hook.after_test_iter(runner, 1, None, [res_b])
    written = sorted(os.listdir(tmp_path / 'Annotations' / 'a'))
    assert written == [f'{n}.png' for n in out_names]
    np.testing.assert_array_equal(
        read_mask(str(tmp_path / 'Annotations' / 'a' / '00005.png')),
        res_a['pred_labels'][1])
    hook.after_test_epoch(runner, {})
    with zipfile.ZipFile(tmp_path / 'submission.zip') as archive:
        names = sorted(archive.namelist())
        assert names == sorted(
            [f'Annotations/a/{n}.png' for n in out_names] +
            ['Annotations/b/00000.png', 'Annotations/b/00005.png'])
        assert archive.read('Annotations/a/00010.png') == (
            tmp_path / 'Annotations' / 'a' / '00010.png').read_bytes()


def test_zip_of_incomplete_predictions_names_the_missing_mask(tmp_path):
    hook = YouTubeVOSSubmissionHook(str(tmp_path), zip_name='sub.zip')
    dataset = FakeDataset([dict(seq_name='a', frame_names=['00000'],
                                output_frame_names=['00000', '00005'])])
    hook.after_test_iter(fake_runner(dataset), 0, None,
                         [result('a', ['00000'], ['00000'])])
    with pytest.raises(FileNotFoundError, match='a/00005.png'):
        hook.after_test_epoch(fake_runner(dataset), {})
    assert not osp.exists(tmp_path / 'sub.zip')


def test_expected_frames_and_plain_writer_respects_output_frames(tmp_path):
    dataset = FakeDataset([dict(seq_name='x', frame_names=['1', '2'])])
    assert expected_submission_frames(dataset) == {'x': ['1', '2']}
    writer = PredictionWriterHook(str(tmp_path / 'davis'))
    writer.after_test_iter(fake_runner(dataset), 0, None,
                           [result('a', ['00005'], ['00000', '00005'])])
    assert os.listdir(tmp_path / 'davis' / 'a') == ['00005.png']
    assert make_submission_zip(str(tmp_path / 'davis'), {'a': ['00005']},
                               str(tmp_path / 'z.zip')) == 1
