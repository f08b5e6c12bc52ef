"""strip_prefix: the one key cleaner of checkpoints and state dicts."""
from collections import OrderedDict

import pytest
import torch

from vosbench.utils.state_dict import strip_prefix


def test_strips_module_and_keeps_order_and_tensors():
    a, b, c = torch.zeros(1), torch.ones(2), torch.zeros(3)
    out = strip_prefix(OrderedDict([('module.x', a), ('y', b),
                                    ('module.z.w', c)]))
    assert list(out) == ['x', 'y', 'z.w']
    assert out['x'] is a and out['y'] is b and out['z.w'] is c
    # only a leading prefix goes
    assert list(strip_prefix({'a.module.b': a})) == ['a.module.b']


def test_only_prefixed_selects_a_sub_module():
    sd = {'backbone.conv1.weight': 1, 'head.fc.weight': 2,
          'backbone.bn1.bias': 3}
    out = strip_prefix(sd, 'backbone.', only_prefixed=True)
    assert out == {'conv1.weight': 1, 'bn1.bias': 3}
    assert strip_prefix(sd, 'neck.', only_prefixed=True) == {}


def test_unchecked_later_key_wins():
    out = strip_prefix({'x': 1, 'module.x': 2, 'y': 'not a tensor'})
    assert out == {'x': 2, 'y': 'not a tensor'}


def test_checked_errors_name_the_state_dict_and_key():
    what = 'the test checkpoint'
    with pytest.raises(TypeError, match='the test checkpoint: expected a '
                       'state dict .* got list'):
        strip_prefix([1, 2], what=what)
    with pytest.raises(ValueError, match="key 3 is not a string"):
        strip_prefix({3: torch.zeros(1)}, what=what)
    with pytest.raises(ValueError, match="'x' occurs both with and without "
                       'the "module." prefix'):
        strip_prefix({'x': torch.zeros(1), 'module.x': torch.zeros(1)},
                     what=what)
    with pytest.raises(ValueError, match="'module.y' is a str, not a "
                       'tensor'):
        strip_prefix({'module.y': 'abc'}, what=what)
    with pytest.raises(ValueError, match='"head." prefix'):
        strip_prefix({'head.w': torch.zeros(1), 'w': torch.zeros(1)},
                     'head.', what=what)
