"""The data preprocessor (vosbench.models.data_preprocessors): training
clips stacked and scaled to [0, 1], test samples passed through."""
import pytest
import torch

from vosbench.models.data_preprocessors import VOSDataPreprocessor


def test_data_preprocessor_stacks_clips_to_unit_range():
    pre = VOSDataPreprocessor()
    clips = [torch.full((3, 3, 4, 4), 255, dtype=torch.uint8),
             torch.zeros((3, 3, 4, 4), dtype=torch.uint8)]
    clips[1][0, 0, 0, 0] = 51
    samples = [dict(masks=torch.zeros(3, 4, 4, dtype=torch.long),
                    num_objects=1)] * 2
    out = pre(dict(inputs=clips, data_samples=samples), True)
    assert out['inputs'].shape == (2, 3, 3, 4, 4)
    assert out['inputs'].dtype == torch.float32
    assert out['inputs'][0].min() == 1.0
    assert out['inputs'][1, 0, 0, 0, 0].item() == pytest.approx(0.2)
    assert out['inputs'][1].sum().item() == pytest.approx(0.2)
    assert out['data_samples'][0]['num_objects'] == 1
    assert torch.is_tensor(out['data_samples'][0]['masks'])


def test_data_preprocessor_passes_test_samples_through():
    pre = VOSDataPreprocessor()
    sample = dict(seq_name='a', frame_paths=['x/00000.jpg'],
                  first_mask_path='y/00000.png')
    out = pre(dict(inputs=[None], data_samples=[sample]), False)
    assert out['inputs'] == [None]
    assert out['data_samples'] == [sample]
