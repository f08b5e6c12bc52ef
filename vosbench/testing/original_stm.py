"""A minimal re-implementation of the ORIGINAL STM (Oh et al., 2019).

The original composition, parameter names and inference loop of STM
(Oh et al., ICCV 2019, and its released code), written independently of vosbench's model so that
the two can be compared: ``tests/test_models/test_stm_checkpoint.py``
loads the same weights into both and checks that they give the same
probabilities, and ``tools/analysis/benchmark_inference.py`` times this
loop as the baseline for vosbench's inference. Like the original, it runs
every object through the decoder's skip branches, keeps the probabilities
of the whole video and concatenates the memory at every step.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from vosbench.models.backbones import ResNet
from vosbench.models.utils import IMAGENET_MEAN, IMAGENET_STD

__all__ = ['OrigSTM', 'orig_memory_read', 'orig_pad_divide_by']


class _OrigEncoder(nn.Module):
    """What both original encoders have: the frame conv, ``bn1``, the
    max-pool, ResNet-50 stages 1-3 as ``res2``..``res4`` and the ImageNet
    normalisation of the [0, 1] frame."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        trunk = ResNet(50, num_stages=3, out_indices=(2, ))
        self.res2, self.res3, self.res4 = trunk.layer1, trunk.layer2, \
            trunk.layer3
        self.register_buffer('mean',
                             torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('std',
                             torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def normalize(self, in_f):
        return (in_f - self.mean) / self.std


class OrigEncoderM(_OrigEncoder):
    """Frame conv + mask conv + others conv, summed before bn1."""

    def __init__(self):
        super().__init__()
        self.conv1_m = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
        self.conv1_o = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)

    def forward(self, in_f, in_m, in_o):
        x = self.conv1(self.normalize(in_f)) + \
            self.conv1_m(in_m[:, None]) + self.conv1_o(in_o[:, None])
        x = self.maxpool(F.relu(self.bn1(x)))
        return self.res4(self.res3(self.res2(x)))


class OrigEncoderQ(_OrigEncoder):

    def forward(self, in_f):
        x = self.maxpool(F.relu(self.bn1(self.conv1(self.normalize(in_f)))))
        r2 = self.res2(x)
        r3 = self.res3(r2)
        r4 = self.res4(r3)
        return r4, r3, r2


class OrigKeyValue(nn.Module):

    def __init__(self):
        super().__init__()
        self.Key = nn.Conv2d(1024, 128, 3, padding=1)
        self.Value = nn.Conv2d(1024, 512, 3, padding=1)

    def forward(self, x):
        return self.Key(x), self.Value(x)


class OrigResBlock(nn.Module):

    def __init__(self, dim=256):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x):
        r = self.conv1(F.relu(x))
        r = self.conv2(F.relu(r))
        return x + r


class OrigRefine(nn.Module):

    def __init__(self, in_planes, planes=256):
        super().__init__()
        self.convFS = nn.Conv2d(in_planes, planes, 3, padding=1)
        self.ResFS = OrigResBlock(planes)
        self.ResMM = OrigResBlock(planes)

    def forward(self, f, pm):
        s = self.ResFS(self.convFS(f))
        m = s + F.interpolate(
            pm, scale_factor=2, mode='bilinear', align_corners=False)
        return self.ResMM(m)


class OrigDecoder(nn.Module):

    def __init__(self, mdim=256):
        super().__init__()
        self.convFM = nn.Conv2d(1024, mdim, 3, padding=1)
        self.ResMM = OrigResBlock(mdim)
        self.RF3 = OrigRefine(512, mdim)
        self.RF2 = OrigRefine(256, mdim)
        self.pred2 = nn.Conv2d(mdim, 2, 3, padding=1)

    def forward(self, r4, r3, r2):
        m4 = self.ResMM(self.convFM(r4))
        m3 = self.RF3(r3, m4)
        m2 = self.RF2(r2, m3)
        p2 = self.pred2(F.relu(m2))
        return F.interpolate(p2,
                             scale_factor=4,
                             mode='bilinear',
                             align_corners=False)


def orig_memory_read(m_in, m_out, q_in, q_out):
    """m_in ``(N, Ck, T, H, W)``, q_in ``(N, Ck, H, W)``; softmax over
    THW."""
    n, d_e, t, h, w = m_in.shape
    d_o = m_out.shape[1]
    mi = m_in.reshape(n, d_e, t * h * w).transpose(1, 2)
    qi = q_in.reshape(n, d_e, h * w)
    p = torch.bmm(mi, qi) / math.sqrt(d_e)
    p = F.softmax(p, dim=1)
    mem = torch.bmm(m_out.reshape(n, d_o, t * h * w), p).view(n, d_o, h, w)
    return torch.cat([mem, q_out], dim=1)


def orig_pad_divide_by(tensors, d):
    """Zero padding to multiples of d, floor(d/2) left/top."""
    h, w = tensors[0].shape[-2:]
    new_h = h + (d - h % d) % d
    new_w = w + (d - w % d) % d
    lh, uh = (new_h - h) // 2, (new_h - h) - (new_h - h) // 2
    lw, uw = (new_w - w) // 2, (new_w - w) - (new_w - w) // 2
    pad = (lw, uw, lh, uh)
    return [F.pad(x, pad) for x in tensors], pad


class OrigSTM(nn.Module):
    """The original composition, with the original parameter names."""

    def __init__(self):
        super().__init__()
        self.Encoder_M = OrigEncoderM()
        self.Encoder_Q = OrigEncoderQ()
        self.KV_M_r4 = OrigKeyValue()
        self.KV_Q_r4 = OrigKeyValue()
        self.Decoder = OrigDecoder()

    def memorize(self, frame, masks, num_objects):
        """frame ``(1, 3, H, W)``, masks ``(1, K, H, W)`` -> keys ``(1, K,
        128, 1, h, w)`` and values (zeros for unused channels)."""
        _, k, _, _ = masks.shape
        (frame, masks), _ = orig_pad_divide_by([frame, masks], 16)
        fs, ms, os_ = [], [], []
        for o in range(1, num_objects + 1):
            fs.append(frame)
            ms.append(masks[:, o])
            os_.append(
                (torch.sum(masks[:, 1:o], dim=1) +
                 torch.sum(masks[:, o + 1:num_objects + 1], dim=1)).clamp(
                     0, 1))
        r4 = self.Encoder_M(torch.cat(fs), torch.cat(ms), torch.cat(os_))
        k4, v4 = self.KV_M_r4(r4)
        keys = torch.zeros(1, k, *k4.shape[1:2], 1, *k4.shape[2:])
        values = torch.zeros(1, k, *v4.shape[1:2], 1, *v4.shape[2:])
        keys[0, 1:num_objects + 1, :, 0] = k4
        values[0, 1:num_objects + 1, :, 0] = v4
        return keys, values

    @staticmethod
    def soft_aggregation(ps, k):
        n, h, w = ps.shape
        em = torch.zeros(1, k, h, w)
        em[0, 0] = torch.prod(1 - ps, dim=0)
        em[0, 1:n + 1] = ps
        em = torch.clamp(em, 1e-7, 1 - 1e-7)
        return torch.log(em / (1 - em))

    def segment(self, frame, keys, values, num_objects):
        k = keys.shape[1]
        [frame], pad = orig_pad_divide_by([frame], 16)
        r4, r3, r2 = self.Encoder_Q(frame)
        k4, v4 = self.KV_Q_r4(r4)
        k4e, v4e = (k4.expand(num_objects, -1, -1,
                              -1), v4.expand(num_objects, -1, -1, -1))
        r3e, r2e = (r3.expand(num_objects, -1, -1,
                              -1), r2.expand(num_objects, -1, -1, -1))
        m4 = orig_memory_read(keys[0, 1:num_objects + 1],
                              values[0, 1:num_objects + 1], k4e, v4e)
        logits = self.Decoder(m4, r3e, r2e)
        ps = F.softmax(logits, dim=1)[:, 1]
        logit = self.soft_aggregation(ps, k)
        if pad[2] + pad[3] > 0:
            logit = logit[:, :, pad[2]:-pad[3], :]
        if pad[0] + pad[1] > 0:
            logit = logit[:, :, :, pad[0]:-pad[1]]
        return logit

    @torch.no_grad()
    def run_video(self,
                  frames,
                  first_masks,
                  num_objects,
                  mem_every=5,
                  hard_memory=False):
        """frames ``(T, 3, H, W)`` in [0, 1]; first_masks ``(K, H, W)``
        one-hot. Returns ``(T, K, H, W)`` probabilities.

        ``hard_memory`` memorises the argmax instead of the soft
        probabilities (a deliberately wrong variant, to show that the
        comparison is sensitive to it)."""
        num_frames = frames.shape[0]
        es = torch.zeros(num_frames, *first_masks.shape)
        es[0] = first_masks
        to_memorize = set(range(0, num_frames, mem_every))
        keys = values = None
        for t in range(1, num_frames):
            prev = es[t - 1:t]
            if hard_memory and t > 1:
                prev = F.one_hot(prev.argmax(1),
                                 prev.shape[1]).permute(0, 3, 1, 2).float()
            prev_key, prev_value = self.memorize(frames[t - 1:t], prev,
                                                 num_objects)
            if t - 1 == 0:
                this_keys, this_values = prev_key, prev_value
            else:
                this_keys = torch.cat([keys, prev_key], dim=3)
                this_values = torch.cat([values, prev_value], dim=3)
            logit = self.segment(frames[t:t + 1], this_keys, this_values,
                                 num_objects)
            es[t] = F.softmax(logit, dim=1)[0]
            if t - 1 in to_memorize:
                keys, values = this_keys, this_values
        return es
