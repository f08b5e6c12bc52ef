"""STM's decoder (vosbench.models.decoders.stm_decoder; STM, Oh et al.
ICCV 2019): the residual block, the output stride and the skip branches run
once per frame for all its objects."""
import pytest
import torch
import torch.nn.functional as F

from vosbench.models.decoders import ResidualBlock, STMDecoder


def test_residual_block_formula():
    block = ResidualBlock(4)
    x = torch.randn(1, 4, 5, 5)
    expected = x + block.conv2(F.relu(block.conv1(F.relu(x))))
    torch.testing.assert_close(block(x), expected)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    torch.testing.assert_close(block(x), x)


def test_decoder_output_shape():
    dec = STMDecoder(in_channels=16, skip_channels=(8, 4), channels=8)
    out = dec(torch.randn(2, 16, 3, 4),
              [torch.randn(2, 8, 6, 8), torch.randn(2, 4, 12, 16)])
    # stride 16 -> stride 1 (two refine steps of 2x, then 4x)
    assert out.shape == (2, 2, 48, 64)


def test_decoder_runs_skip_branches_once_per_frame():
    """Skips given once per frame (B) for B*K memory reads equal skips
    copied per object, and the skip branch runs on B maps only."""
    torch.manual_seed(0)
    decoder = STMDecoder(in_channels=32, skip_channels=(16, 8),
                         channels=8).eval()
    frames, objects = 2, 3
    read = torch.randn(frames * objects, 32, 3, 4)
    skips = [torch.randn(frames, 16, 6, 8), torch.randn(frames, 8, 12, 16)]
    seen = []
    decoder.refine_modules[1].skip_conv.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape[0]))
    shared = decoder(read, skips)
    copied = decoder(read, [s.repeat_interleave(objects, 0) for s in skips])
    assert seen == [frames, frames * objects]
    assert shared.shape == (frames * objects, 2, 48, 64)
    torch.testing.assert_close(shared, copied, rtol=0, atol=1e-5)
    # objects of a frame are consecutive: object 1 of frame 1 decoded alone
    alone = decoder(read[4:5], [s[1:2] for s in skips])
    torch.testing.assert_close(alone, shared[4:5], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match='not a multiple'):
        decoder(read[:5], skips)
